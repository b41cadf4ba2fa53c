"""Configuration through configman: ini file, then environment, then command line (last wins).

configman layers the sources (``sources``) over the declared options (``options``); this
module turns values into typed settings with errors that name their source, builds a job's
namespace only where the job declares ``required_config`` or has a section (configman
costs ~0.12 s per 1,000 namespaces), and remembers where each value came from.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from configman import ConfigurationManager, Namespace

from crontabber import _compat  # noqa: F401
from crontabber.config.ini_reader import read_ini
from crontabber.config.job_sections import JobSection, merge, take_job_sections
from crontabber.config.jobs_from_config import class_builder, config_job_base
from crontabber.config.ledger import DEFAULT_EXECUTOR, DEFAULT_FACTORY, LedgerChoice, from_ini
from crontabber.config.options import (
    CONFIG_JOB_KEYS,
    GLOBAL_OPTIONS,
    PER_JOB_CONVERTERS,
    PER_JOB_KEYS,
    POSTGRES_KEYS,
    base_namespace,
    optional,
    parse_flag,
    parse_tags,
    positive_int,
)
from crontabber.config.sources import Sources
from crontabber.config.unknown import LEGACY_CLASS_KEYS, unknown_key_warnings
from crontabber.errors import ConfigError
from crontabber.jobs import (
    JobDefinition,
    JobEntry,
    JobSettings,
    import_job_class,
    order_jobs,
    parse_entry,
    split_entries,
)
from crontabber.schedule import ScheduleError, parse_duration, parse_schedule, parse_zone
from crontabber.state import Ledger, open_ledger, redact_url


@dataclass
class Settings:
    """The resolved configuration: global settings, the ordered jobs, and provenance."""

    conf_path: Path | None
    config: Any  # configman's DotDictWithAcquisition
    jobs: list[JobDefinition]
    timezone: dt.tzinfo
    database_url: str
    error_retry_time: float
    max_ongoing_age_hours: float
    max_workers: int
    provenance: dict[str, str] = field(default_factory=dict)
    not_acted_on: list[str] = field(default_factory=list)
    unknown_options: list[str] = field(default_factory=list)
    runner_silent_after: float | None = None  # None: judged from each host's own ticks
    ledger: LedgerChoice | None = None  # where the ledger is and why (None: database_url)

    def open_ledger(self, read_only: bool = False) -> Ledger:
        """Open the configured ledger (LedgerError when it cannot be reached)."""
        if self.ledger is not None:
            return self.ledger.open(read_only, group_access=self.sqlite_group_access)
        return open_ledger(self.database_url, read_only=read_only, group_access=self.sqlite_group_access)

    @property
    def ledger_name(self) -> str:
        """The ledger, safe to print."""
        return self.ledger.name if self.ledger is not None else redact_url(self.database_url)
    config_warnings: list[str] = field(default_factory=list)  # unknown crontabber.* keys, one line each
    sqlite_group_access: bool = False

    def job(self, name: str) -> JobDefinition:
        """The job with this app name or class path, or JobNotFoundError listing the names."""
        from crontabber.errors import JobNotFoundError

        for job in self.jobs:
            if job.matches(name):
                return job
        known = ", ".join(job.app_name for job in self.jobs) or "none"
        raise JobNotFoundError(f"no job {name!r} is configured (configured: {known})")


def _resolve(namespace: Namespace, sources: Sources) -> tuple[Any, list[str]]:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            manager = ConfigurationManager(
                [namespace], values_source_list=sources.configman_sources(), argv_source=[],
                use_admin_controls=True, use_auto_help=False, app_name="crontabber")
            config = manager.get_config()
    except ConfigError:
        raise
    except Exception as exc:
        where = f" in {sources.conf_path}" if sources.conf_path else ""
        raise ConfigError(f"configuration error{where}: {type(exc).__name__}: {exc}") from exc
    unknown: list[str] = []
    for warning in caught:
        text = str(warning.message)
        if text.startswith("Invalid options: "):
            unknown.extend(text[len("Invalid options: "):].split(", "))
    return config, unknown


def default_conf_path(environ: Mapping[str, str], cwd: Path | None = None) -> Path | None:
    """0.18.1's implicit config: ``crontabber.ini`` in ``$DEFAULT_SOCORRO_CONFIG_PATH`` or ``./config``.

    Used only when ``--admin.conf`` is not given, so a crontab line that relied on it keeps working.
    A folder named by the variable must exist (0.18.1 raised IOError); ``./config`` is optional."""
    folder = environ.get("DEFAULT_SOCORRO_CONFIG_PATH", "").strip()
    if folder:
        if not Path(folder).is_dir():
            raise ConfigError(f"DEFAULT_SOCORRO_CONFIG_PATH={folder!r} is not a folder: fix the variable "
                              "or pass --admin.conf=FILE")
        candidate = Path(folder) / "crontabber.ini"
    else:
        candidate = (cwd or Path.cwd()) / "config" / "crontabber.ini"
    return candidate if candidate.is_file() else None


def load_settings(conf_path: str | Path | None = None, overrides: Mapping[str, str] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Read the configuration and the jobs it names; raise ConfigError on anything invalid."""
    path = Path(conf_path) if conf_path else None
    if path is not None and not path.is_file():
        raise ConfigError(f"config file {path} not found: check --admin.conf")
    ini, job_sections = read_ini(path) if path is not None else (None, {})
    job_sections.update(take_job_sections(ini, str(path)))  # read below without configman: 10,000 of them are cheap
    sources = Sources(path, os.environ if environ is None else environ, overrides or {}, ini, job_sections)
    _check_cut_at_hash(sources)
    namespace = base_namespace()
    config, unknown = _resolve(namespace, sources)
    reader = _Reader(config, sources)
    tz = reader.get("crontabber.timezone", parse_zone)
    entries = _entries(config.crontabber.jobs, sources)
    prepared = [_prepare(entry, tz, sources) for entry in entries]
    _check_unique(prepared)
    namespaced = [(item.section, item.job_class) for item in prepared if item.needs_namespace]
    classes = _ledger_classes(reader)
    if namespaced or classes:
        for section, job_class in namespaced:
            _add_job_namespace(namespace, section, job_class)
        for ledger_class, _ in classes.values():  # 0.18.1 expanded the class's own keys into [crontabber]
            for key in POSTGRES_KEYS:  # the class's own keys (if it has these) take their place
                namespace.crontabber.pop(key, None)
            _add_options(namespace.crontabber, ledger_class)
        referenced = _referenced([cls for _, cls in namespaced] + [cls for cls, _ in classes.values()])
        if referenced:  # a class option's class (ConnectionFactory) may reference the keys too
            referenced |= set(POSTGRES_KEYS)
        for name in referenced:
            # configman creates the referenced options itself and fails if they already exist.
            namespace.resource.postgresql.pop(name, None)
        config, unknown = _resolve(namespace, sources)
        reader = _Reader(config, sources)
    defaults = {key: reader.get(f"crontabber.{key}", PER_JOB_CONVERTERS[key])
                for key in PER_JOB_KEYS if key != "on_airflow_since"}
    inherited = _inherited(reader, defaults)
    config_jobs = _ConfigJobSections(job_sections, sources)
    jobs = [_definition(item, config, reader, inherited, config_jobs) for item in prepared]
    unknown += config_jobs.unknown_keys({job.app_name for job in jobs if job.section.startswith("job-")})
    ledger = from_ini(reader.value, sources.of, sources.section_lines, path, classes, config.crontabber)
    settings = Settings(
        conf_path=path, config=config, jobs=order_jobs(jobs), timezone=tz,
        database_url=ledger.url, ledger=ledger,
        error_retry_time=reader.get("crontabber.error_retry_time", parse_duration),
        max_ongoing_age_hours=reader.get("crontabber.max_ongoing_age_hours", float),
        max_workers=reader.get("crontabber.max_workers", positive_int),
        unknown_options=sorted(set(unknown)),
        runner_silent_after=reader.get("crontabber.runner_silent_after", optional(parse_duration)),
        config_warnings=unknown_key_warnings(unknown, sources, [item.section for item in prepared]),
        sqlite_group_access=reader.get("crontabber.sqlite_group_access", parse_flag))
    settings.provenance = {key: reader.source(key) for key in reader.read}
    settings.not_acted_on = _not_acted_on(sources, used=[key for _, key in classes.values()])
    _hide_secrets(settings, reader, config_jobs)
    return settings


def _hide_secrets(settings: Settings, reader: _Reader, sections: _ConfigJobSections) -> None:
    """Every password the configuration holds is hidden from every output from now on."""
    from crontabber.redaction import remember, remember_in

    for key in ("resource.postgresql.password", "crontabber.password", "crontabber.database_password"):
        remember(str(reader.maybe(key) or ""))  # 0.18.1's keys, and a deployment class's usual one
    urls = [settings.database_url, str(reader.maybe("sentry.dsn") or ""), str(reader.maybe("secrets.sentry.dsn") or "")]
    urls += [str(value or "") for value in sections.values_of("database_url")]
    remember_in(urls)


def _check_cut_at_hash(sources: Sources) -> None:
    """A URL, password or DSN the ini reader cut at a ``#`` (it starts a comment there), which
    the run would only report as a bad port or a failed login."""
    for key in sources.ini_lines:
        name = key.rsplit(".", 1)[-1]
        if name not in ("database_url", "password", "dsn"):
            continue
        raw, parsed = sources.raw_value(key), sources.ini_value(key)
        if raw is None or parsed is None or not parsed or not raw.startswith(parsed + "#"):
            continue
        fix = "put the whole value in quotes" if name == "password" else \
            "put the whole value in quotes or write # as %23"
        raise ConfigError(f"{sources.of(key)}: {key}: the ini reader cut the value at '#' (a '#' "
                          f"starts a comment): {fix}")


class _Reader:
    """Typed access to resolved values; a conversion error names the value's source."""

    def __init__(self, config: Any, sources: Sources) -> None:
        self.config = config
        self.sources = sources
        self.read: list[str] = []

    def raw(self, key: str) -> Any:
        node = self.config
        for part in key.split("."):
            node = node[part]
        return node

    def maybe(self, key: str) -> Any:
        """The value of ``key``, or None when the configuration has no such option."""
        try:
            return self.raw(key)
        except (KeyError, AttributeError):
            return None

    def source(self, key: str) -> str:
        return self.sources.of(key) or "default"

    def value(self, key: str) -> Any:
        """The value of ``key``, or "" when configman has no such option."""
        try:
            return self.get(key)
        except KeyError:
            return ""

    def get(self, key: str, convert: Callable[[Any], Any] | None = None) -> Any:
        self.read.append(key)
        value = self.raw(key)
        if convert is None:
            return value
        try:
            return convert(value)
        except (ValueError, TypeError, ScheduleError) as exc:
            raise ConfigError(f"{self.source(key)}: {key} = {value!r}: {exc}") from None


def _entries(jobs_text: Any, sources: Sources) -> list[JobEntry]:
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
class _Prepared:
    """One jobs-list entry once its schedule is parsed and (for a Python job) its class imported."""

    section: str  # "class-<ClassName>" or "job-<app_name>"
    job_class: type | None  # None for a config-declared job (built later from its section)
    app_name: str
    needs_namespace: bool  # a Python job with required_config or a section of its own
    entry: JobEntry
    schedule: Any


def _prepare(entry: JobEntry, tz: dt.tzinfo, sources: Sources) -> _Prepared:
    try:
        schedule = parse_schedule(entry.schedule_text, tz)
    except ScheduleError as exc:
        raise ConfigError(f"{entry.where}: jobs entry {entry.text!r}: {exc}") from None
    if entry.is_config_job:
        app_name = entry.target[len("job:"):]
        return _Prepared(f"job-{app_name}", None, app_name, False, entry, schedule)
    job_class = import_job_class(entry)
    section = f"class-{job_class.__name__}"
    from crontabber.base import BaseCronApp

    required = getattr(job_class, "required_config", None)
    needs = required is not None and required is not BaseCronApp.required_config and len(required) > 0
    needs = needs or sources.has_section(f"crontabber.{section}")
    return _Prepared(section, job_class, job_class.app_name, needs, entry, schedule)


def _check_unique(prepared: list[_Prepared]) -> None:
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


def _add_job_namespace(namespace: Namespace, section: str, job_class: type) -> None:
    crontabber_ns = namespace.crontabber
    if section in crontabber_ns:
        return
    crontabber_ns.namespace(section)
    job_ns = crontabber_ns[section]
    for key in PER_JOB_KEYS:
        job_ns.add_option(key, default="", doc=f"this job's {key} (empty: the [crontabber] value)")
    for key in LEGACY_CLASS_KEYS:  # written by 0.18.1's --admin.dump_conf; the jobs list decides
        job_ns.add_option(key, default="", doc="0.18.1 option, not used (the jobs list decides)")
    if hasattr(job_class, "get_required_config"):
        for key, value in job_class.get_required_config().items():
            if key not in job_ns:
                job_ns[key] = value


def _referenced(classes: list[type], namespace_name: str = "resource.postgresql") -> set[str]:
    """Names of the options in the classes' required_config that take values from ``namespace_name``."""
    names: set[str] = set()
    stack = [cls.get_required_config() for cls in classes if hasattr(cls, "get_required_config")]
    while stack:
        for key, value in stack.pop().items():
            if isinstance(value, Namespace):
                stack.append(value)
            elif getattr(value, "reference_value_from", None) == namespace_name:
                names.add(key)
    return names


def _add_options(namespace: Namespace, owner: type) -> None:
    """Declare ``owner``'s required_config keys in ``namespace`` (those not declared yet)."""
    if hasattr(owner, "get_required_config"):
        for key, value in owner.get_required_config().items():
            if key not in namespace:
                namespace[key] = value


def _ledger_classes(reader: _Reader) -> dict[str, tuple[type, str]]:
    """A connection class of the deployment's own named by 0.18.1's database_class (and the
    transaction executor beside it), imported: role -> (class, the key that named it)."""
    from configman import class_converter

    found: dict[str, tuple[type, str]] = {}
    for role, default in (("database_class", DEFAULT_FACTORY), ("transaction_executor_class", DEFAULT_EXECUTOR)):
        key = next((key for key in (f"crontabber.{role}", f"resource.postgresql.{role}")
                    if reader.sources.of(key)), None)
        text = str(reader.value(key) or "").strip() if key else ""
        if not text or text == default:
            if role == "database_class":
                return {}  # 0.18.1's own factory: the ledger's URL comes from the keys
            continue
        try:
            found[role] = (class_converter(text), key)
        except Exception as exc:
            raise ConfigError(f"{reader.source(key)}: {key} = {text!r} cannot be imported "
                              f"({type(exc).__name__}: {exc}); check the class path and PYTHONPATH") from None
    return found


def _inherited(reader: _Reader, defaults: dict[str, Any]) -> tuple[JobSettings, dict[str, str]]:
    """The settings and provenance of a job without a section of its own (built once per load)."""
    settings = JobSettings(**{key: value for key, value in defaults.items()})
    provenance = {key: f"[crontabber] {reader.source(f'crontabber.{key}')}" for key in defaults}
    provenance["on_airflow_since"] = "default"
    return settings, provenance


class _ConfigJobSections:
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


def _definition(item: _Prepared, config: Any, reader: _Reader, inherited: tuple[JobSettings, dict[str, str]],
                sections: _ConfigJobSections) -> JobDefinition:
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


def _not_acted_on(sources: Sources, used: list[str]) -> list[str]:
    """Options that are set but that this version accepts without acting on them."""
    keys = [f"crontabber.{name}" for name, _, _, acted in GLOBAL_OPTIONS if not acted]
    keys += ["application", "resource.postgresql.database_class",
             "resource.postgresql.transaction_executor_class"]
    return [key for key in keys if sources.of(key) and key not in used]
