"""From the jobs list to JobDefinitions: each entry's schedule and class (imported, or built later
from its ``[[job-...]]`` section), its settings over the ``[crontabber]`` defaults, and its
configuration (a configman namespace for a Python job, plain values for a config-declared one)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from crontabber.config.job_sections import JobSection, merge
from crontabber.config.jobs_from_config import class_builder, config_job_base
from crontabber.config.options import CONFIG_JOB_KEYS, PER_JOB_CONVERTERS, PER_JOB_KEYS, parse_tags
from crontabber.config.reader import Reader
from crontabber.config.sources import Sources
from crontabber.errors import ConfigError
from crontabber.jobs import JobDefinition, JobEntry, JobSettings, import_job_class, parse_entry, split_entries
from crontabber.schedule import ScheduleError, parse_schedule


def read_entries(jobs_text: Any, sources: Sources) -> list[JobEntry]:
    text = jobs_text if isinstance(jobs_text, str) else "\n".join(jobs_text or ())
    where_jobs = sources.of("crontabber.jobs")
    ini_line = sources.ini_lines.get("crontabber.jobs") if where_jobs and ":" in where_jobs else None
    file_lines = sources.conf_path.read_text(errors="replace").splitlines() if ini_line else []
    entries = []
    cursor = (ini_line or 1) - 1  # entries appear in file order: one forward scan finds them all
    for number, piece in split_entries(text):
        where = f"{where_jobs or 'crontabber.jobs'} (entry line {number})"
        for index in range(cursor, len(file_lines)):
            if piece in file_lines[index]:
                where = f"{sources.conf_path}:{index + 1}"
                cursor = index
                break
        entries.append(parse_entry(piece, where))
    return entries


@dataclass(frozen=True)
class Prepared:
    """One jobs-list entry once its schedule is parsed and (for a Python job) its class imported."""

    section: str  # "class-<ClassName>" or "job-<app_name>"
    job_class: type | None  # None for a config-declared job (built later from its section)
    app_name: str
    needs_namespace: bool  # a Python job with required_config or a section of its own
    entry: JobEntry
    schedule: Any


def prepare(entry: JobEntry, tz: dt.tzinfo, sources: Sources) -> Prepared:
    try:
        schedule = parse_schedule(entry.schedule_text, tz)
    except ScheduleError as exc:
        raise ConfigError(f"{entry.where}: jobs entry {entry.text!r}: {exc}") from None
    if entry.is_config_job:
        app_name = entry.target[len("job:"):]
        return Prepared(f"job-{app_name}", None, app_name, False, entry, schedule)
    job_class = import_job_class(entry)
    section = f"class-{job_class.__name__}"
    from crontabber.base import BaseCronApp

    required = getattr(job_class, "required_config", None)
    needs = required is not None and required is not BaseCronApp.required_config and len(required) > 0
    needs = needs or sources.has_section(f"crontabber.{section}")
    return Prepared(section, job_class, job_class.app_name, needs, entry, schedule)


def check_unique(prepared: list[Prepared]) -> None:
    seen_sections: dict[str, JobEntry] = {}
    seen_names: dict[str, JobEntry] = {}
    for item in prepared:
        entry = item.entry
        other = seen_sections.get(item.section)
        if other is not None and other.target != entry.target:
            raise ConfigError(
                f"{entry.where}: two configured classes are named {item.job_class.__name__!r} "
                f"({other.target} at {other.where} and {entry.target}); their settings would "
                f"share [[{item.section}]]: rename one class")
        if not isinstance(item.app_name, str) or _unprintable(item.app_name):
            raise ConfigError(f"{entry.where}: app_name {item.app_name!r} of {entry.target} holds a control "
                              "character or line break, which would split list rows and log lines: "
                              "use letters, digits, '-', '_' and '.'")
        if item.app_name in seen_names:
            raise ConfigError(f"{entry.where}: app_name {item.app_name!r} is configured twice "
                              f"(also at {seen_names[item.app_name].where}); keep one entry")
        seen_sections[item.section] = entry
        seen_names[item.app_name] = entry


def _unprintable(name: str) -> bool:
    import unicodedata

    return any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in name)


def inherited_settings(reader: Reader, defaults: dict[str, Any]) -> tuple[JobSettings, dict[str, str]]:
    """The settings and provenance of a job without a section of its own (built once per load)."""
    settings = JobSettings(**{key: value for key, value in defaults.items()})
    provenance = {key: f"[crontabber] {reader.source(f'crontabber.{key}')}" for key in defaults}
    provenance["on_airflow_since"] = "default"
    return settings, provenance


class ConfigJobSections:
    """The config-declared jobs' sections (``job_sections``), merged on demand per job."""

    def __init__(self, ini_sections: dict[str, dict[str, Any]], sources: Sources) -> None:
        self.ini_sections = ini_sections
        self.sources = sources
        self.env_keys, self.cli_keys = sources.job_keys()
        self._merged: dict[str, JobSection] = {}

    def section(self, app_name: str) -> JobSection:
        if app_name not in self._merged:
            self._merged[app_name] = merge(app_name, self.ini_sections.get(app_name), self.env_keys.get(app_name, {}),
                                           self.cli_keys.get(app_name, {}), self.sources.of)
        return self._merged[app_name]

    def values_of(self, key: str) -> list[Any]:
        """The value of ``key`` in every config-declared job's section that sets it."""
        return [section.get(key) for section in self._merged.values() if section.get(key)]

    def unknown_keys(self, configured: set[str]) -> list[str]:
        """Keys of configured jobs that no job reads, and every key of a section no job uses."""
        unknown = []
        for app_name in sorted({*self.ini_sections, *self.env_keys, *self.cli_keys}):
            section = self.section(app_name)
            unknown += section.unknown_keys() if app_name in configured else \
                [f"crontabber.job-{app_name}.{key}" for key in section.values]
        return unknown


def definition(item: Prepared, config: Any, reader: Reader, inherited: tuple[JobSettings, dict[str, str]],
                sections: ConfigJobSections) -> JobDefinition:
    """The JobDefinition of one entry: its settings over the inherited ones, and its configuration."""
    settings, provenance = inherited  # shared by every job that sets none of its own keys
    values: dict[str, Any] | None = None
    job_config = None
    if item.job_class is None:  # config-declared: its section is plain values (job_sections)
        job_section = sections.section(item.app_name)
        own = {key: value for key, value in job_section.values.items()
               if key in _PER_JOB_KEY_SET and value not in ("", None)}
        if own:
            settings = replace(settings, **{key: _convert(job_section, key, value) for key, value in own.items()})
            provenance = {**provenance, **{key: job_section.sources[key] for key in own}}
        values = {**_CONFIG_JOB_DEFAULTS, **job_section.values}
        base = config_job_base(item.app_name, values, item.entry.where)
        kind, class_source = base.crontabber_kind, class_builder(item.app_name, base, values)
        depends_on = parse_tags(values.get("depends_on", ""))
    else:
        if item.needs_namespace:
            dotted = {key: f"crontabber.{item.section}.{key}" for key in PER_JOB_KEYS}
            own = {key: name for key, name in dotted.items() if reader.raw(name) not in ("", None)}
            typed = {key: reader.get(name, PER_JOB_CONVERTERS[key]) for key, name in own.items()}
            settings = replace(settings, **typed)
            provenance = {**provenance, **{key: reader.source(name) for key, name in own.items()}}
            job_config = config.crontabber[item.section]
        depends_on = _depends_on(item.job_class)
        kind, class_source = getattr(item.job_class, "crontabber_kind", "python"), item.job_class
    job = JobDefinition(
        app_name=item.app_name, kind=kind, target=item.entry.target, entry=item.entry,
        schedule=item.schedule, class_source=class_source, section=item.section, depends_on=depends_on,
        settings=settings, provenance=provenance)
    job.bind_config(job_config, config.crontabber, values)
    return job


_CONFIG_JOB_DEFAULTS = {key: "" for key in (*PER_JOB_KEYS, *CONFIG_JOB_KEYS)}


_PER_JOB_KEY_SET = frozenset(PER_JOB_KEYS)


def _convert(section: JobSection, key: str, value: Any) -> Any:
    try:
        return PER_JOB_CONVERTERS[key](value)
    except (ValueError, TypeError, ScheduleError) as exc:
        raise ConfigError(f"{section.sources[key]}: crontabber.job-{section.app_name}.{key} = "
                          f"{value!r}: {exc}") from None


def _depends_on(job_class: type) -> tuple[str, ...]:
    from crontabber.base import depends_on_list

    return tuple(depends_on_list(getattr(job_class, "depends_on", None)))
