"""Settings from the configuration of a 0.18.1-style application (``CronTabberBase`` run by configman).

The application's ``required_config`` (its ``crontabber`` namespace, the jobs class list and
a namespace per class) is resolved by configman before the engine sees it, by the
deployment's own launcher or by ``crontabber.generic_app.main``. This turns that resolved
tree into the same ``Settings`` the ``crontabber`` command builds from an ini file, so the
same runner, ledger and listings serve both. Each job's configuration is its own class
namespace, as in 0.18.1, so ``self.config.logger`` is the application's ``logger``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from configman import Namespace

from crontabber.base import depends_on_list
from crontabber.config.ledger import from_app_config
from crontabber.config.options import GLOBAL_OPTIONS, PER_JOB_CONVERTERS, PER_JOB_KEYS, positive_int
from crontabber.config.settings import Settings
from crontabber.errors import ConfigError
from crontabber.jobs import JobDefinition, JobEntry, JobSettings, order_jobs
from crontabber.schedule import ScheduleError, parse_duration, parse_schedule, parse_zone

# Options of ours that a 0.18.1-style application also accepts in its crontabber namespace.
APP_OPTIONS = ("database_url", "timezone", "max_workers", "timeout", "max_retries", "retry_backoff",
               "nagios_critical_after", "overdue_warning", "overdue_critical", "tags", "owner")


def add_app_options(namespace: Namespace) -> None:
    """Declare ``APP_OPTIONS`` in an application's ``crontabber`` namespace (where missing)."""
    docs = {name: (default, doc) for name, default, doc, _ in GLOBAL_OPTIONS}
    for name in APP_OPTIONS:
        if name not in namespace:
            default, doc = docs[name]
            namespace.add_option(name, default=default, doc=doc)


def settings_from_app_config(config: Any) -> Settings:
    """The engine's settings for a resolved application configuration; ConfigError when a job's
    schedule or class is unusable (0.18.1 found those only while running)."""
    crontabber = config.crontabber
    tz = _convert(crontabber, "timezone", parse_zone, "UTC")
    defaults = JobSettings(**{key: _convert(crontabber, key, PER_JOB_CONVERTERS[key], "")
                              for key in PER_JOB_KEYS if key != "on_airflow_since" and key in crontabber})
    jobs = [_definition(name, job_class, namespace, crontabber, defaults, tz)
            for name, job_class, namespace in class_namespaces(crontabber)]
    names = [job.app_name for job in jobs]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ConfigError(f"crontabber.jobs: app_name {twice[0]!r} is configured twice; keep one entry")
    ledger = from_app_config(crontabber)
    return Settings(
        conf_path=None, config=config, jobs=order_jobs(jobs), timezone=tz, database_url=ledger.url,
        error_retry_time=_convert(crontabber, "error_retry_time", parse_duration, 300),
        max_ongoing_age_hours=_convert(crontabber, "max_ongoing_age_hours", float, 12),
        max_workers=_convert(crontabber, "max_workers", positive_int, 1), ledger=ledger)


def class_namespaces(crontabber: Any) -> list[tuple[str, type, Any]]:
    """(namespace name, job class, resolved namespace) for each entry of ``crontabber.jobs``."""
    jobs = crontabber["jobs"]
    if isinstance(jobs, str):
        if jobs.strip():
            raise ConfigError("crontabber.jobs was not converted into a class list: declare it with "
                              "crontabber.app's jobs converter")
        return []
    names = getattr(jobs, "subordinate_namespace_names", None) or [f"class-{name}" for name, _ in jobs.class_list]
    return [(name, job_class, crontabber[name]) for name, (_, job_class) in zip(names, jobs.class_list)]


def _definition(section: str, job_class: type, namespace: Any, crontabber: Any, defaults: JobSettings,
                tz: Any) -> JobDefinition:
    target = f"{job_class.__module__}.{job_class.__name__}"
    frequency = str(namespace.get("frequency") or "").strip()
    time = str(namespace.get("time") or "").strip()
    text = f"{frequency}|{time}" if time else frequency
    where = f"crontabber.jobs entry {target}|{text}"
    if not getattr(job_class, "app_name", None):
        raise ConfigError(f"{where}: the class has no app_name; add app_name = '...' to it")
    try:
        schedule = parse_schedule(text, tz)
    except ScheduleError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    own = {key: _convert(namespace, key, PER_JOB_CONVERTERS[key], "") for key in PER_JOB_KEYS
           if key in namespace and str(namespace[key]).strip() not in ("", "None")}
    settings = replace(defaults, **own)  # shared by every job that sets none of its own
    job = JobDefinition(
        app_name=job_class.app_name, kind=getattr(job_class, "crontabber_kind", "python"), target=target,
        entry=JobEntry(target, text, f"{target}|{text}", where), schedule=schedule, class_source=job_class,
        section=section, depends_on=tuple(depends_on_list(getattr(job_class, "depends_on", None))),
        settings=settings)
    job.bind_config(namespace, crontabber)
    return job


def _convert(namespace: Any, key: str, convert: Any, default: Any) -> Any:
    value = namespace.get(key, default) if key in namespace else default
    try:
        return convert(value)
    except (ValueError, TypeError, ScheduleError) as exc:
        raise ConfigError(f"crontabber.{key} = {value!r}: {exc}") from None
