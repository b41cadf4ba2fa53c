"""Configuration through configman: ini file, then environment, then command line (last wins).

configman layers the sources; this module declares every option (0.18.1's included),
turns values into typed settings with errors that name their source, builds a job's
namespace only where the job declares ``required_config`` or has a section (configman
costs ~0.12 s per 1,000 namespaces), and remembers where each value came from.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from configman import ConfigurationManager, Namespace

from crontabber import _compat  # noqa: F401
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

# name, default, help, acted on (False: accepted for 0.18.1 compatibility, reported by configtest)
GLOBAL_OPTIONS: tuple[tuple[str, str, str, bool], ...] = (
    ("jobs", "", "the jobs list: module.Class|schedule or job:name|schedule, one per line", True),
    ("database_url", "", "ledger: sqlite:///path or postgresql://user@host/db "
                         "(default: crontabber.sqlite beside the config file)", True),
    ("timezone", "UTC", "IANA zone in which times of day and cron expressions are read", True),
    ("error_retry_time", "300", "delay before a failed job is retried (seconds or 5m, 1h...)", True),
    ("max_ongoing_age_hours", "12", "Nagios warns about a job running (locked) for longer", True),
    ("max_workers", "1", "how many independent jobs may run at once", True),
    ("timeout", "", "default per-job timeout (empty: none)", True),
    ("max_retries", "", "default retries before a failing job waits for its next slot", True),
    ("retry_backoff", "1", "default multiplier of the retry delay per consecutive failure", True),
    ("nagios_critical_after", "", "consecutive failures before Nagios says CRITICAL "
                                  "(empty: 0.18.1's rule)", True),
    ("overdue_warning", "", "Nagios WARNING when a job is this late (empty: off)", True),
    ("overdue_critical", "", "Nagios CRITICAL when a job is this late (empty: off)", True),
    ("tags", "", "default Airflow tags for exported DAGs", True),
    ("owner", "", "default owner for exported DAGs", True),
    ("airflow_conn_id", "crontabber_postgres", "Airflow connection id of procedure jobs exported "
                                               "with export-dags --mode native", True),
    ("job_state_db_class", "crontabber.app.JobStateDatabase", "0.18.1 option, not used", False),
    ("database_class", "crontabber.connection_factory.ConnectionFactory", "0.18.1 option", False),
    ("transaction_executor_class", "crontabber.transaction_executor.TransactionExecutor",
     "0.18.1 option, not used", False),
)
PER_JOB_KEYS = ("error_retry_time", "timeout", "max_retries", "retry_backoff",
                "nagios_critical_after", "overdue_warning", "overdue_critical",
                "on_airflow_since", "tags", "owner")
CONFIG_JOB_KEYS = ("command", "shell", "env", "cwd", "nice", "ionice", "depends_on", "procedure",
                   "pass_date", "database_url", "description", "output_limit", "stdin",
                   "rc_file")
_POSTGRES_KEYS = ("host", "port", "dbname", "user", "password")
_LOGGING_OPTIONS = (
    ("syslog_host", "localhost"), ("syslog_port", "514"), ("syslog_facility_string", "user"),
    ("syslog_line_format_string", "crontabber (pid {process}): {asctime} {levelname} - {message}"),
    ("syslog_error_logging_level", "40"),
    ("stderr_line_format_string", "{asctime} {levelname} crontabber: {message}"),
    ("stderr_error_logging_level", "30"),
)
_KNOWN_ROOTS = ("crontabber", "resource", "logging", "sentry", "secrets")


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

    def job(self, name: str) -> JobDefinition:
        """The job with this app name or class path, or JobNotFoundError listing the names."""
        from crontabber.errors import JobNotFoundError

        for job in self.jobs:
            if job.matches(name):
                return job
        known = ", ".join(job.app_name for job in self.jobs) or "none"
        raise JobNotFoundError(f"no job {name!r} is configured (configured: {known})")


class _Sources:
    """The raw values of each source, to tell where an option's value came from."""

    def __init__(self, conf_path: Path | None, environ: Mapping[str, str], overrides: Mapping[str, str]):
        self.conf_path = conf_path
        self.ini_lines: dict[str, int] = _scan_ini(conf_path) if conf_path else {}
        self.env_names: dict[str, str] = {}
        self.env: dict[str, str] = {}
        for name, value in environ.items():
            if "__" in name and name != name.upper():
                dotted = name.replace("__", ".")
                if dotted.split(".", 1)[0] in _KNOWN_ROOTS:
                    self.env[dotted] = value
                    self.env_names[dotted] = name
        self.overrides = dict(overrides)

    def of(self, key: str) -> str | None:
        """Where ``key`` was set, or None when it has its default."""
        if key in self.overrides:
            return f"command line --{key}"
        if key in self.env:
            return f"environment {self.env_names[key]}"
        if key in self.ini_lines:
            return f"{self.conf_path}:{self.ini_lines[key]}"
        return None

    def has_section(self, dotted: str) -> bool:
        prefix = dotted + "."
        return any(key.startswith(prefix) for source in (self.ini_lines, self.env, self.overrides)
                   for key in source)

    def configman_sources(self) -> list[Any]:
        sources: list[Any] = [str(self.conf_path)] if self.conf_path else []
        return sources + [dict(self.env), dict(self.overrides)]


def _scan_ini(path: Path) -> dict[str, int]:
    """dotted key -> line number, for an ini file in configman's nested-section format."""
    lines: dict[str, int] = {}
    sections: list[str] = []
    quote = None
    for number, raw in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        line = raw.strip()
        if quote:
            if quote in line:
                quote = None
            continue
        if not line or line.startswith("#"):
            continue
        header = re.match(r"^(\[+)\s*([^\]]+?)\s*(\]+)$", line)
        if header:
            depth = len(header.group(1))
            sections = sections[:depth - 1] + [header.group(2)]
            continue
        key_value = re.match(r"^([^=]+?)\s*=\s*(.*)$", line)
        if key_value:
            key = ".".join(sections + [key_value.group(1)])
            lines.setdefault(key, number)
            value = key_value.group(2)
            for triple in ("'''", '"""'):
                if value.startswith(triple) and value.count(triple) == 1:
                    quote = triple
    return lines


def _base_namespace() -> Namespace:
    root = Namespace()
    root.add_option("application", default="", doc="0.18.1 generic_app option, not used")
    root.namespace("crontabber")
    for name, default, doc, _ in GLOBAL_OPTIONS:
        root.crontabber.add_option(name, default=default, doc=doc)
    root.namespace("resource")
    root.resource.namespace("postgresql")
    for name in _POSTGRES_KEYS:
        root.resource.postgresql.add_option(name, default="5432" if name == "port" else "",
                                            secret=name == "password")
    for name in ("database_class", "transaction_executor_class"):
        root.resource.postgresql.add_option(name, default="", doc="0.18.1 option, not used")
    root.resource.namespace("logging")
    root.namespace("logging")
    for name, default in _LOGGING_OPTIONS:
        root.resource.logging.add_option(name, default=default)
        root.logging.add_option(name, default="")
    root.namespace("sentry")
    root.sentry.add_option("dsn", default="", secret=True)
    root.namespace("secrets")
    root.secrets.namespace("sentry")
    root.secrets.sentry.add_option("dsn", default="", secret=True)
    return root


def _resolve(namespace: Namespace, sources: _Sources) -> tuple[Any, list[str]]:
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


def load_settings(conf_path: str | Path | None = None, overrides: Mapping[str, str] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Read the configuration and the jobs it names; raise ConfigError on anything invalid."""
    path = Path(conf_path) if conf_path else None
    if path is not None and not path.is_file():
        raise ConfigError(f"config file {path} not found: check --admin.conf")
    sources = _Sources(path, os.environ if environ is None else environ, overrides or {})
    namespace = _base_namespace()
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
    defaults = {key: reader.get(f"crontabber.{key}", _PER_JOB_CONVERTERS[key])
                for key in PER_JOB_KEYS if key != "on_airflow_since"}
    inherited = _inherited(reader, defaults)
    jobs = [_definition(item, config, reader, inherited) for item in prepared]
    settings = Settings(
        conf_path=path, config=config, jobs=order_jobs(jobs), timezone=tz,
        database_url=_database_url(reader, path),
        error_retry_time=reader.get("crontabber.error_retry_time", parse_duration),
        max_ongoing_age_hours=reader.get("crontabber.max_ongoing_age_hours", float),
        max_workers=reader.get("crontabber.max_workers", _positive_int),
        unknown_options=sorted(set(unknown)))
    settings.provenance = {key: reader.source(key) for key in reader.read}
    settings.not_acted_on = _not_acted_on(sources)
    return settings


class _Reader:
    """Typed access to resolved values; a conversion error names the value's source."""

    def __init__(self, config: Any, sources: _Sources) -> None:
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


def _positive_int(value: Any) -> int:
    number = int(str(value).strip())
    if number < 1:
        raise ValueError("must be a whole number >= 1")
    return number


def _optional(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def inner(value: Any) -> Any:
        if value is None or str(value).strip() == "":
            return None
        return convert(value)
    return inner


def _non_negative_int(value: Any) -> int:
    number = int(str(value).strip())
    if number < 0:
        raise ValueError("must be a whole number >= 0")
    return number


def _backoff(value: Any) -> float:
    number = float(str(value).strip() or 1)
    if number < 1:
        raise ValueError("must be 1 (constant delay) or more (multiplier per failure)")
    return number


def parse_instant(value: Any) -> dt.datetime:
    """An ISO 8601 instant; one without an offset is read as UTC."""
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        parsed = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return parsed.replace(tzinfo=dt.timezone.utc) if parsed.tzinfo is None else parsed.astimezone(dt.timezone.utc)


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(part for part in re.split(r"[,\s]+", str(value or "").strip()) if part)


_PER_JOB_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "error_retry_time": parse_duration,
    "timeout": _optional(parse_duration),
    "max_retries": _optional(_non_negative_int),
    "retry_backoff": _backoff,
    "nagios_critical_after": _optional(_positive_int),
    "overdue_warning": _optional(parse_duration),
    "overdue_critical": _optional(parse_duration),
    "on_airflow_since": _optional(parse_instant),
    "tags": _tags,
    "owner": lambda value: str(value or "").strip(),
}


def _entries(jobs_text: Any, sources: _Sources) -> list[JobEntry]:
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


def _prepare(entry: JobEntry, tz: dt.tzinfo, sources: _Sources) -> tuple:
    """(section, class, needs a namespace, entry, schedule) for one entry."""
    try:
        schedule = parse_schedule(entry.schedule_text, tz)
    except ScheduleError as exc:
        raise ConfigError(f"{entry.where}: jobs entry {entry.text!r}: {exc}") from None
    if entry.is_config_job:
        from crontabber.config_jobs import config_job_class

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
        if app_name in seen_names:
            raise ConfigError(f"{entry.where}: app_name {app_name!r} is configured twice "
                              f"(also at {seen_names[app_name].where}); keep one entry")
        seen_sections[section] = entry
        seen_names[app_name] = entry


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
                setattr(settings, key, reader.get(f"{base}.{key}", _PER_JOB_CONVERTERS[key]))
                provenance[key] = reader.source(f"{base}.{key}")
    job_config = config.crontabber[section] if has_namespace else None
    if section.startswith("job-"):
        from crontabber.config_jobs import build_config_job_class

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
        return _tags(section.get("depends_on", ""))
    return tuple(depends_on_list(getattr(job_class, "depends_on", None)))


def _database_url(reader: _Reader, conf_path: Path | None) -> str:
    url = str(reader.get("crontabber.database_url") or "").strip()
    if url:
        return url
    legacy = {key: str(reader.get(f"resource.postgresql.{key}") or "").strip() for key in _POSTGRES_KEYS}
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


def _not_acted_on(sources: _Sources) -> list[str]:
    """Options that are set but that this version accepts without acting on them."""
    keys = [f"crontabber.{name}" for name, _, _, acted in GLOBAL_OPTIONS if not acted]
    keys += ["application", "resource.postgresql.database_class",
             "resource.postgresql.transaction_executor_class", "sentry.dsn", "secrets.sentry.dsn"]
    keys += [f"{root}.{name}" for root in ("logging", "resource.logging")
             for name, _ in _LOGGING_OPTIONS if name.startswith("syslog")]
    return [key for key in keys if sources.of(key)]
