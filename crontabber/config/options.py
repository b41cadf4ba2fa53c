"""Every option crontabber reads (0.18.1's included), with defaults and typed converters.

``config`` layers the sources through configman; this module says what the options are,
so the configuration reference (docs/configuration.md) can be checked against one list.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from configman import Namespace


from crontabber import _compat  # noqa: F401
from crontabber.schedule import parse_duration

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
    ("runner_silent_after", "", "nagios and the status page report a runner host silent after this "
                            "long without a tick (empty: 3 x its longest gap between ticks, "
                            "at least 15m)", True),
    ("sqlite_group_access", "false", "true: a new SQLite ledger and its lock folder are group-readable "
                                     "and -writable (0660/0770) instead of owner-only (0600/0700)", True),
    ("airflow_conn_id", "crontabber_postgres", "Airflow connection id of procedure jobs exported "
                                               "with export-dags --mode native", True),
    ("job_state_db_class", "crontabber.app.JobStateDatabase", "0.18.1 option, not used", False),
    ("database_class", "crontabber.connection_factory.ConnectionFactory",
     "0.18.1: a connection class of the deployment's own for the ledger (when database_url is not set)", False),
    ("transaction_executor_class", "crontabber.transaction_executor.TransactionExecutor",
     "0.18.1: the transaction executor used with that class", False),
)
PER_JOB_KEYS = ("error_retry_time", "timeout", "max_retries", "retry_backoff",
                "nagios_critical_after", "overdue_warning", "overdue_critical",
                "on_airflow_since", "tags", "owner")
CONFIG_JOB_KEYS = ("command", "shell", "env", "cwd", "nice", "ionice", "depends_on", "procedure",
                   "pass_date", "database_url", "description", "output_limit", "stdin",
                   "rc_file", "airflow_variables")
POSTGRES_KEYS = ("host", "port", "dbname", "user", "password")
LOGGING_OPTIONS = (
    ("syslog_host", "localhost"), ("syslog_port", "514"), ("syslog_facility_string", "user"),
    ("syslog_line_format_string", "crontabber (pid {process}): {asctime} {levelname} - {message}"),
    ("syslog_error_logging_level", "40"),
    ("stderr_line_format_string", "{asctime} {levelname} crontabber: {message}"),
    ("stderr_error_logging_level", "30"),
)
LOGGING_DEFAULTS = {name: default for name, default in LOGGING_OPTIONS}  # resource.logging's defaults
KNOWN_ROOTS = ("crontabber", "resource", "logging", "sentry", "secrets")


def base_namespace() -> Namespace:
    """Every option crontabber reads, as configman's namespace (configman is imported here, not at
    module level, so a tick served from the settings cache never imports it)."""
    from configman import Namespace

    root = Namespace()
    root.add_option("application", default="", doc="0.18.1 generic_app option, not used")
    root.namespace("crontabber")
    for name, default, doc, _ in GLOBAL_OPTIONS:
        root.crontabber.add_option(name, default=default, doc=doc)
    for name in POSTGRES_KEYS:  # 0.18.1's ledger read these, each defaulting to resource.postgresql's
        root.crontabber.add_option(name, default="", doc=f"0.18.1: the ledger's {name} "
                                   f"(default: resource.postgresql.{name})", secret=name == "password")
    root.namespace("resource")
    root.resource.namespace("postgresql")
    for name in POSTGRES_KEYS:
        root.resource.postgresql.add_option(name, default="5432" if name == "port" else "",
                                            secret=name == "password")
    for name in ("database_class", "transaction_executor_class"):
        root.resource.postgresql.add_option(name, default="", doc="0.18.1: as crontabber.<name>")
    root.resource.namespace("logging")
    root.namespace("logging")
    for name, default in LOGGING_OPTIONS:
        root.resource.logging.add_option(name, default=default)
        root.logging.add_option(name, default="")
    root.namespace("sentry")
    root.sentry.add_option("dsn", default="", secret=True)
    root.namespace("secrets")
    root.secrets.namespace("sentry")
    root.secrets.sentry.add_option("dsn", default="", secret=True)
    return root


def positive_int(value: Any) -> int:
    number = int(str(value).strip())
    if number < 1:
        raise ValueError("must be a whole number >= 1")
    return number


def optional(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def inner(value: Any) -> Any:
        if value is None or str(value).strip() == "":
            return None
        return convert(value)
    return inner


def non_negative_int(value: Any) -> int:
    number = int(str(value).strip())
    if number < 0:
        raise ValueError("must be a whole number >= 0")
    return number


def backoff(value: Any) -> float:
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


def parse_flag(value: Any) -> bool:
    """``true``/``yes``/``on``/``1`` or ``false``/``no``/``off``/``0``/empty."""
    text = str(value if value is not None else "").strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise ValueError("use true or false")


def parse_tags(value: Any) -> tuple[str, ...]:
    """Names separated by commas or blanks (``tags``, ``depends_on``), or a list of them."""
    if value is None or value == "":
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(part for part in re.split(r"[,\s]+", str(value or "").strip()) if part)


PER_JOB_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "error_retry_time": parse_duration,
    "timeout": optional(parse_duration),
    "max_retries": optional(non_negative_int),
    "retry_backoff": backoff,
    "nagios_critical_after": optional(positive_int),
    "overdue_warning": optional(parse_duration),
    "overdue_critical": optional(parse_duration),
    "on_airflow_since": optional(parse_instant),
    "tags": parse_tags,
    "owner": lambda value: str(value or "").strip(),
}
