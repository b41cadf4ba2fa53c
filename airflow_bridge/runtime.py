"""What generated DAG tasks call at run time (imported by DAG files, so it stays light).

The config path is never in a DAG file: it comes from the ``CRONTABBER_CONFIG``
environment variable of the worker, else the Airflow Variable the file names
(``crontabber_config`` unless exported with ``--config-variable``). crontabber
itself is imported only when a task runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Mapping
from typing import Any

CONFIG_ENV = "CRONTABBER_CONFIG"
log = logging.getLogger("airflow_bridge")
_SETTINGS: dict[tuple[str, float], Any] = {}


class JobFailed(Exception):
    """The crontabber job failed (or could not take its lock); Airflow retries the task."""


class NotThisRun(Exception):
    """The run is not Airflow's to do (cron runs the job): the task ends as skipped."""


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


def load_path(path: str) -> Any:
    """The crontabber Settings of ``path`` (cached per process while the file is unchanged)."""
    from crontabber.config.settings import load_settings

    key = (path, os.stat(path).st_mtime)
    if key not in _SETTINGS:
        _SETTINGS.clear()
        _SETTINGS[key] = load_settings(path, {}, os.environ)
    return _SETTINGS[key]


def load(variable: str) -> Any:
    """The crontabber Settings named by the Airflow Variable ``variable`` (or the environment)."""
    return load_path(config_path(variable))


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def run_of(job: Any, context: Mapping[str, Any]) -> Any:
    """The DAG run as ``handover.Run``: its instant, whether a person triggered it, its params."""
    from airflow_bridge.handover import Run, date_param

    dag_run = context.get("dag_run")
    when = context.get("logical_date") or getattr(dag_run, "logical_date", None)
    when = when or getattr(dag_run, "run_after", None) or now()
    run_type = str(getattr(getattr(dag_run, "run_type", None), "value", getattr(dag_run, "run_type", "")))
    params = context.get("params") or {}
    text = params.get("date")
    try:
        date = date_param(job, text) if text else None
    except ValueError as exc:
        raise JobFailed(str(exc)) from None
    return Run(instant=aware(when), manual=run_type not in ("scheduled", "backfill"),
               force=bool(params.get("force")), date=date)


def run_to_dict(run: Any) -> dict[str, Any]:
    """A ``handover.Run`` as JSON-able data (for a trigger's kwargs)."""
    return {"instant": run.instant.isoformat(), "manual": run.manual, "force": run.force,
            "date": run.date.isoformat() if run.date else None}


def run_from_dict(data: Mapping[str, Any]) -> Any:
    from airflow_bridge.handover import Run

    return Run(instant=aware(data["instant"]), manual=bool(data["manual"]), force=bool(data["force"]),
               date=aware(data["date"]) if data.get("date") else None)


def ledger_rows(settings: Any, names: list[str]) -> dict[str, Any]:
    """The ledger rows of ``names`` (one short connection)."""
    ledger = settings.open_ledger()
    try:
        return ledger.load(names)
    finally:
        ledger.close()


def gate_verdict(app_name: str, path: str, run: Any) -> Any:
    """The first step of a bridge run (``handover.gate``) against the ledger as it is now."""
    from airflow_bridge.handover import gate

    settings = load_path(path)
    job = settings.job(app_name)
    state = ledger_rows(settings, [job.app_name]).get(job.app_name)
    return gate(job, state, run, now())


def parent_verdict(app_name: str, parent: str, path: str, force: bool = False) -> Any:
    """Whether ``parent`` lets ``app_name`` run now, by crontabber's own rule (a handover.Verdict)."""
    from airflow_bridge.handover import RUN, WAIT, Verdict
    from crontabber.rules import dependency_problem

    if force:
        return Verdict(RUN, f"forced by params.force: not waiting for {parent!r}")
    settings = load_path(path)
    states = ledger_rows(settings, [parent])
    configured = [job.app_name for job in settings.jobs]
    problem = dependency_problem([parent], states, now(), configured)
    if problem is None:
        return Verdict(RUN, f"{parent!r} succeeded last time and is not overdue")
    return Verdict(WAIT, f"{app_name} waits: {problem}")


def run_bridge_job(app_name: str, variable: str, context: Mapping[str, Any]) -> str:
    """Run the job through crontabber's runner (same lock, same ledger rows) unless the ledger
    already has this run's interval; raise on failure so Airflow retries."""
    from airflow_bridge.handover import already_done, backfill_date, cron_message, dates_to_run
    from crontabber.clock import SystemClock
    from crontabber.outcomes import Outcome
    from crontabber.runner import Runner

    settings = load(variable)
    job = settings.job(app_name)
    run = run_of(job, context)
    cron = cron_message(job, run, now())  # on_airflow_since may have moved (a rollback) since the gate
    if cron is not None:
        raise NotThisRun(cron)
    date = backfill_date(job, run, now())
    ledger = settings.open_ledger()
    try:
        runner = Runner(settings, ledger, SystemClock())
        dates = [None] if date is None else dates_to_run(job, ledger.load([job.app_name]).get(job.app_name), run, date)
        for when in dates:
            result = runner.run_once(job.app_name, when,
                                     unless=lambda state, when=when: already_done(job, state, run, now(), when))
            if result.outcome is Outcome.NOT_DUE:
                log.info("crontabber: %s not run: %s", app_name, result.reason)
                continue
            log.info("crontabber: %s", result)
            if result.outcome is Outcome.SKIPPED_LOCKED:
                raise JobFailed(f"{app_name}: {result.reason}; retrying later")
            if result.outcome.is_failure:
                raise JobFailed(f"{app_name} {result.outcome.value}: {result.reason}")
    finally:
        ledger.close()
    return result.outcome.value


def run_native_job(target: str, config_variable: str, backfill: bool, **context: Any) -> None:
    """Native mode: build the job class and call ``run()`` (``run(date)`` for backfill); no ledger."""
    from airflow_bridge.handover import backfill_date

    settings = load(config_variable)
    job = settings.job(target)
    instance = job.job_class(job.config, None)
    instance.crontabber_now = now()
    instance.crontabber_schedule = job.schedule
    instance.crontabber_settings = job.settings
    instance.crontabber_database_url = settings.database_url
    if backfill:
        run = run_of(job, context)
        instance._run_proxy(backfill_date(job, run, now()) or run.instant)
    else:
        instance._run_proxy()


def aware(when: Any) -> dt.datetime:
    """A stdlib aware UTC datetime from an ISO string, a naive (UTC) or aware datetime, or pendulum."""
    value = dt.datetime.fromisoformat(when) if isinstance(when, str) else when
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromtimestamp(value.timestamp(), dt.timezone.utc)
