"""What generated DAG tasks call at run time (imported by DAG files, so it stays light).

The config path is never in a DAG file: it comes from the ``CRONTABBER_CONFIG``
environment variable of the worker, else the Airflow Variable the file names
(``crontabber_config``). crontabber itself is imported only when a task runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

CONFIG_ENV = "CRONTABBER_CONFIG"
log = logging.getLogger("airflow_bridge")
_SETTINGS: dict[tuple[str, float], Any] = {}


class JobFailed(Exception):
    """The crontabber job failed (or could not take its lock); Airflow retries the task."""


def config_path(variable: str) -> str:
    """The crontabber.ini to use: ``$CRONTABBER_CONFIG``, else the Airflow Variable ``variable``."""
    path = os.environ.get(CONFIG_ENV, "").strip()
    if not path:
        from airflow.sdk import Variable

        path = str(Variable.get(variable, default="") or "").strip()
    if not path:
        raise JobFailed(f"no crontabber config: set the {CONFIG_ENV} environment variable on the workers "
                        f"or the Airflow Variable {variable!r} to the path of crontabber.ini")
    return path


def load(variable: str) -> Any:
    """The crontabber Settings (cached per process while the file is unchanged)."""
    from crontabber.config.settings import load_settings

    path = config_path(variable)
    key = (path, os.stat(path).st_mtime)
    if key not in _SETTINGS:
        _SETTINGS.clear()
        _SETTINGS[key] = load_settings(path, {}, os.environ)
    return _SETTINGS[key]


def run_date(context: Mapping[str, Any]) -> dt.datetime:
    """The date a backfill run is for: the run's logical date, else ``run_after`` (manual runs)."""
    when = context.get("logical_date")
    if when is None:
        dag_run = context.get("dag_run")
        when = getattr(dag_run, "run_after", None) or dt.datetime.now(dt.timezone.utc)
    return _aware(when)


def run_bridge_job(app_name: str, variable: str, context: Mapping[str, Any]) -> str:
    """Run the job through crontabber's runner: same lock, same ledger rows; raise on failure."""
    from crontabber.clock import SystemClock
    from crontabber.outcomes import Outcome
    from crontabber.runner import Runner
    from crontabber.state import open_ledger

    settings = load(variable)
    job = settings.job(app_name)
    date = run_date(context) if job.is_backfill else None
    ledger = open_ledger(settings.database_url, group_access=settings.sqlite_group_access)
    try:
        result = Runner(settings, ledger, SystemClock()).run_once(job.app_name, date)
    finally:
        ledger.close()
    log.info("crontabber: %s", result)
    if result.outcome is Outcome.SKIPPED_LOCKED:
        raise JobFailed(f"{app_name}: {result.reason}; retrying later")
    if result.outcome.is_failure:
        raise JobFailed(f"{app_name} {result.outcome.value}: {result.reason}")
    return result.outcome.value


def parent_problem(app_name: str, parent: str, variable: str) -> str | None:
    """Why ``parent`` does not allow ``app_name`` to run now, by crontabber's own rule (None: it does)."""
    from crontabber.rules import dependency_problem
    from crontabber.state import open_ledger

    settings = load(variable)
    ledger = open_ledger(settings.database_url, group_access=settings.sqlite_group_access)
    try:
        states = ledger.load([parent])
    finally:
        ledger.close()
    configured = [job.app_name for job in settings.jobs]
    return dependency_problem([parent], states, dt.datetime.now(dt.timezone.utc), configured)


def run_native_job(target: str, config_variable: str, backfill: bool, logical_date: Any = None,
                   dag_run: Any = None) -> None:
    """Native mode: build the job class and call ``run()`` (``run(date)`` for backfill); no ledger."""
    settings = load(config_variable)
    job = settings.job(target)
    instance = job.job_class(job.config, None)
    instance.crontabber_now = dt.datetime.now(dt.timezone.utc)
    instance.crontabber_schedule = job.schedule
    instance.crontabber_settings = job.settings
    instance.crontabber_database_url = settings.database_url
    if backfill:
        instance._run_proxy(run_date({"logical_date": logical_date, "dag_run": dag_run}))
    else:
        instance._run_proxy()


def latest_instant(schedule: str, timezone: str, anchor: str | None = None) -> Callable[[Any], dt.datetime]:
    """An ``execution_date_fn``: the upstream's latest instant at or before the child's logical date."""

    def upstream_date(logical_date: Any) -> dt.datetime:
        from airflow_bridge.instants import Instants

        start = dt.datetime.fromisoformat(anchor) if anchor else None
        when = _aware(logical_date)
        found = Instants(schedule, timezone, start).last_at_or_before(when)
        return found if found is not None else when

    return upstream_date


def _aware(when: Any) -> dt.datetime:
    value = dt.datetime.fromisoformat(when) if isinstance(when, str) else when
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromtimestamp(value.timestamp(), dt.timezone.utc)
