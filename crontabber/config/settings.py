"""Configuration through configman: ini file, then environment, then command line (last wins).

configman layers the sources (``sources``) over the declared options (``options``); this
module turns values into typed settings with errors that name their source, builds a job's
namespace only where the job declares ``required_config`` or has a section (configman
costs ~0.12 s per 1,000 namespaces), and remembers where each value came from.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from configman import ConfigurationManager, Namespace

from crontabber import _compat  # noqa: F401
from crontabber.config.options import (
    CONFIG_JOB_KEYS,
    GLOBAL_OPTIONS,
    LOGGING_OPTIONS,
    PER_JOB_CONVERTERS,
    PER_JOB_KEYS,
    POSTGRES_KEYS,
    base_namespace,
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
    sources = Sources(path, os.environ if environ is None else environ, overrides or {})
    _check_cut_at_hash(sources)
    namespace = base_namespace()
    config, unknown = _resolve(namespace, sources)
    reader = _Reader(config, sources)
    tz = reader.get("crontabber.timezone", parse_zone)
    entries = _entries(config.crontabber.jobs, sources)
    prepared = [_prepare(entry, tz, sources) for entry in entries]
    _check_unique(prepared)
    sections = [(section, job_class) for section, job_class, needs, *_ in prepared if needs]
    if sections:
        for section, job_class in sections:
            _add_job_namespace(namespace, section, job_class)
        if any(_references(job_class, "resource.postgresql") for _, job_class in sections):
            # configman creates the referenced options itself and fails if they already exist.
            del namespace.resource["postgresql"]
        config, unknown = _resolve(namespace, sources)
        reader = _Reader(config, sources)
    defaults = {key: reader.get(f"crontabber.{key}", PER_JOB_CONVERTERS[key])
                for key in PER_JOB_KEYS if key != "on_airflow_since"}
    inherited = _inherited(reader, defaults)
    jobs = [_definition(item, config, reader, inherited) for item in prepared]
    settings = Settings(
        conf_path=path, config=config, jobs=order_jobs(jobs), timezone=tz,
        database_url=_database_url(reader, path),
        error_retry_time=reader.get("crontabber.error_retry_time", parse_duration),
        max_ongoing_age_hours=reader.get("crontabber.max_ongoing_age_hours", float),
        max_workers=reader.get("crontabber.max_workers", positive_int),
        unknown_options=sorted(set(unknown)),
        config_warnings=unknown_key_warnings(unknown, sources, [item[0] for item in prepared]),
        sqlite_group_access=reader.get("crontabber.sqlite_group_access", parse_flag))
    settings.provenance = {key: reader.source(key) for key in reader.read}
    settings.not_acted_on = _not_acted_on(sources)
    _hide_secrets(settings, reader)
    return settings


def _hide_secrets(settings: Settings, reader: _Reader) -> None:
    """Every password the configuration holds is hidden from every output from now on."""
    from crontabber.redaction import remember, remember_in

    remember(str(reader.raw("resource.postgresql.password") or ""))
    urls = [settings.database_url, str(reader.raw("sentry.dsn") or ""), str(reader.raw("secrets.sentry.dsn") or "")]
    urls += [str(job.config.get("database_url") or "") for job in settings.jobs if job.section.startswith("job-")]
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

    def source(self, key: str) -> str:
        return self.sources.of(key) or "default"

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


def _prepare(entry: JobEntry, tz: dt.tzinfo, sources: Sources) -> tuple:
    """(section, class, needs a namespace, entry, schedule) for one entry."""
    try:
        schedule = parse_schedule(entry.schedule_text, tz)
    except ScheduleError as exc:
        raise ConfigError(f"{entry.where}: jobs entry {entry.text!r}: {exc}") from None
    if entry.is_config_job:
        from crontabber.config.jobs_from_config import config_job_class

        app_name = entry.target[len("job:"):]
        section = f"job-{app_name}"
        return section, config_job_class(app_name), True, entry, schedule
    job_class = import_job_class(entry)
    section = f"class-{job_class.__name__}"
    from crontabber.base import BaseCronApp

    required = getattr(job_class, "required_config", None)
    needs = required is not None and required is not BaseCronApp.required_config and len(required) > 0
    needs = needs or sources.has_section(f"crontabber.{section}")
    return section, job_class, needs, entry, schedule


def _check_unique(prepared: list[tuple]) -> None:
    seen_sections: dict[str, JobEntry] = {}
    seen_names: dict[str, JobEntry] = {}
    for section, job_class, _, entry, _ in prepared:
        other = seen_sections.get(section)
        if other is not None and other.target != entry.target:
            raise ConfigError(
                f"{entry.where}: two configured classes are named {job_class.__name__!r} "
                f"({other.target} at {other.where} and {entry.target}); their settings would "
                f"share [[{section}]]: rename one class")
        app_name = job_class.app_name
        if not isinstance(app_name, str) or _unprintable(app_name):
            raise ConfigError(f"{entry.where}: app_name {app_name!r} of {entry.target} holds a control "
                              "character or line break, which would split list rows and log lines: "
                              "use letters, digits, '-', '_' and '.'")
        if app_name in seen_names:
            raise ConfigError(f"{entry.where}: app_name {app_name!r} is configured twice "
                              f"(also at {seen_names[app_name].where}); keep one entry")
        seen_sections[section] = entry
        seen_names[app_name] = entry


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
    if section.startswith("job-"):
        for key in CONFIG_JOB_KEYS:
            job_ns.add_option(key, default="")
    else:
        for key in LEGACY_CLASS_KEYS:  # written by 0.18.1's --admin.dump_conf; the jobs list decides
            job_ns.add_option(key, default="", doc="0.18.1 option, not used (the jobs list decides)")
    if hasattr(job_class, "get_required_config"):
        for key, value in job_class.get_required_config().items():
            if key not in job_ns:
                job_ns[key] = value


def _references(job_class: type, namespace_name: str) -> bool:
    """Whether the job's required_config has options that take values from ``namespace_name``."""
    if not hasattr(job_class, "get_required_config"):
        return False
    stack = [job_class.get_required_config()]
    while stack:
        for value in stack.pop().values():
            if isinstance(value, Namespace):
                stack.append(value)
            elif getattr(value, "reference_value_from", None) == namespace_name:
                return True
    return False


def _inherited(reader: _Reader, defaults: dict[str, Any]) -> tuple[JobSettings, dict[str, str]]:
    """The settings and provenance of a job without a section of its own (built once per load)."""
    settings = JobSettings(**{key: value for key, value in defaults.items()})
    provenance = {key: f"[crontabber] {reader.source(f'crontabber.{key}')}" for key in defaults}
    provenance["on_airflow_since"] = "default"
    return settings, provenance


def _definition(item: tuple, config: Any, reader: _Reader,
                inherited: tuple[JobSettings, dict[str, str]]) -> JobDefinition:
    section, job_class, has_namespace, entry, schedule = item
    settings, provenance = copy.copy(inherited[0]), inherited[1]
    if has_namespace:
        base = f"crontabber.{section}"
        provenance = dict(provenance)
        for key in PER_JOB_KEYS:
            if reader.raw(f"{base}.{key}") not in ("", None):
                setattr(settings, key, reader.get(f"{base}.{key}", PER_JOB_CONVERTERS[key]))
                provenance[key] = reader.source(f"{base}.{key}")
    job_config = config.crontabber[section] if has_namespace else None
    if section.startswith("job-"):
        from crontabber.config.jobs_from_config import build_config_job_class

        job_class = build_config_job_class(job_class.app_name, job_config, entry.where)
    kind = getattr(job_class, "crontabber_kind", "python")
    depends_on = _depends_on(job_class, job_config if section.startswith("job-") else None)
    job = JobDefinition(
        app_name=job_class.app_name, kind=kind, target=entry.target, entry=entry,
        schedule=schedule, job_class=job_class, section=section, depends_on=depends_on,
        settings=settings, provenance=provenance)
    job.bind_config(job_config, config.crontabber)
    return job


def _depends_on(job_class: type, section: Any) -> tuple[str, ...]:
    from crontabber.base import depends_on_list

    if section is not None:
        return parse_tags(section.get("depends_on", ""))
    return tuple(depends_on_list(getattr(job_class, "depends_on", None)))


def _database_url(reader: _Reader, conf_path: Path | None) -> str:
    url = str(reader.get("crontabber.database_url") or "").strip()
    if url:
        return url
    legacy = {key: str(reader.get(f"resource.postgresql.{key}") or "").strip() for key in POSTGRES_KEYS}
    if reader.sources.of("resource.postgresql.dbname") or reader.sources.of("resource.postgresql.host"):
        from urllib.parse import quote

        auth = quote(legacy["user"], safe="")
        if legacy["password"]:
            auth += ":" + quote(legacy["password"], safe="")
        host = legacy["host"] or "localhost"
        if host.startswith("/"):  # a Unix socket folder
            host = quote(host, safe="")
        elif ":" in host and not host.startswith("["):  # an IPv6 address
            host = f"[{host}]"
        dbname = quote(legacy["dbname"], safe="")
        return f"postgresql://{auth + '@' if auth else ''}{host}:{legacy['port'] or 5432}/{dbname}"
    folder = conf_path.parent if conf_path else Path.cwd()
    return f"sqlite:///{(folder / 'crontabber.sqlite').resolve()}"


def _not_acted_on(sources: Sources) -> list[str]:
    """Options that are set but that this version accepts without acting on them."""
    keys = [f"crontabber.{name}" for name, _, _, acted in GLOBAL_OPTIONS if not acted]
    keys += ["application", "resource.postgresql.database_class",
             "resource.postgresql.transaction_executor_class", "sentry.dsn", "secrets.sentry.dsn"]
    keys += [f"{root}.{name}" for root in ("logging", "resource.logging")
             for name, _ in LOGGING_OPTIONS if name.startswith("syslog")]
    return [key for key in keys if sources.of(key)]
