"""The sensors of generated DAGs: they wait by crontabber's rules, not by aligned instants.

- ``LedgerDueSensor`` (bridge, the run's first step): skips the run while cron runs the job
  or when the ledger already has its interval, waits until the ledger says the job is due
  (``handover.gate``);
- ``LedgerSensor`` (bridge, one per parent): waits until the parent's ledger row lets the
  child run (``rules.dependency_problem``), whichever side runs the parent;
- ``ParentRunSensor`` (native, one per parent): the same rule from Airflow's own records:
  the parent DAG's latest job task succeeded and its next instant has not passed.

The ledger sensors poke (``mode="poke"``: reschedule mode hits apache/airflow#71172), or,
with ``deferrable=True`` (default: ``[operators] default_deferrable``), defer to
``LedgerTrigger`` so a waiting sensor holds no worker slot (a triggerer must run).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import BaseSensorOperator

UTC = dt.timezone.utc
FAR_FUTURE = dt.datetime(9999, 1, 1, tzinfo=UTC)  # "latest by logical date", leaving out runs without one
RESUME_LEAD = 10.0  # seconds: a deferred sensor resumes this long before a named time (resuming takes seconds)
# A deferred task that resumes before the process that deferred it has exited is killed by Airflow 3.3
# (the old process's exit reads as the end of the new one; seen under load 6 s after deferring):
# the trigger never answers sooner than this.
MIN_HOLD = 15.0


def _default_deferrable() -> bool:
    from airflow.configuration import conf

    return conf.getboolean("operators", "default_deferrable", fallback=False)


class _LedgerWait(BaseSensorOperator):
    """What both ledger sensors share: act on a ``handover.Verdict``, poke or defer."""

    template_fields = ()  # app names are data, never Jinja

    def __init__(self, *, app_name: str, config_variable: str = "crontabber_config",
                 deferrable: bool | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app_name = app_name
        self.config_variable = config_variable
        self.deferrable = _default_deferrable() if deferrable is None else deferrable
        self._until: dt.datetime | None = None

    def verdict(self, path: str, context: Any) -> Any:
        raise NotImplementedError

    def trigger_kwargs(self, path: str, context: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _act(self, verdict: Any) -> bool:
        from airflow.sdk.exceptions import AirflowSkipException

        from airflow_bridge.handover import RUN, SKIP

        self.log.info("%s", verdict.message)
        if verdict.action == SKIP:
            raise AirflowSkipException(verdict.message)
        self._until = verdict.until
        return verdict.action == RUN

    def poke(self, context: Any) -> bool:
        from airflow_bridge.runtime import config_path

        return self._act(self.verdict(config_path(self.config_variable), context))

    def _get_next_poke_interval(self, started_at: Any, run_duration: Any, poke_count: int) -> float:
        interval = super()._get_next_poke_interval(started_at, run_duration, poke_count)
        if self._until is not None:  # the verdict named a time: look again right then
            interval = min(interval, (self._until - dt.datetime.now(UTC)).total_seconds())
        return max(interval, 0.05)

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        from airflow_bridge.runtime import config_path
        from airflow_bridge.triggers import LedgerTrigger

        path = config_path(self.config_variable)
        if self._act(self.verdict(path, context)):
            return None
        now = dt.datetime.now(UTC)
        if self._until is not None and (self._until - now).total_seconds() <= RESUME_LEAD + MIN_HOLD:
            return super().execute(context)  # due within seconds: waiting here is cheaper than resuming
        self.defer(trigger=LedgerTrigger(
            path=path, poke_interval=self.poke_interval, lead=RESUME_LEAD,
            deadline=(now + dt.timedelta(seconds=self.timeout)).isoformat(),
            not_before=(now + dt.timedelta(seconds=MIN_HOLD)).isoformat(), **self.trigger_kwargs(path, context)),
            method_name="execute_complete")

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        """Back from the triggerer: run on, wait the last seconds here, skip, time out (skipped
        with ``soft_fail``) or fail."""
        from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout, AirflowSkipException

        status, message = event.get("status"), event.get("message", "")
        self.log.info("%s", message)
        if status == "run":
            return None
        if status == "near":
            return super().execute(context)
        if status == "skip" or (status == "timeout" and self.soft_fail):
            raise AirflowSkipException(message if status == "skip" else f"timed out waiting: {message}")
        if status == "timeout":
            raise AirflowSensorTimeout(f"timed out waiting: {message}")
        raise AirflowException(message)


class LedgerDueSensor(_LedgerWait):
    """A bridge run's first step: skipped while cron runs the job (``on_airflow_since``) or when
    the ledger already has the run's interval; waits until the job is due; then the job runs."""

    ui_color = "#e3ecf7"

    def _run(self, path: str, context: Any) -> Any:
        from airflow_bridge.runtime import load_path, run_of

        return run_of(load_path(path).job(self.app_name), context)

    def verdict(self, path: str, context: Any) -> Any:
        from airflow_bridge.runtime import gate_verdict

        return gate_verdict(self.app_name, path, self._run(path, context))

    def trigger_kwargs(self, path: str, context: Any) -> dict[str, Any]:
        from airflow_bridge.runtime import run_to_dict

        return {"check": "due", "app_name": self.app_name, "run": run_to_dict(self._run(path, context))}


class LedgerSensor(_LedgerWait):
    """Succeeds once ``parent``'s ledger row lets ``app_name`` run (``rules.dependency_problem``)."""

    ui_color = "#fdf3d8"

    def __init__(self, *, parent: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.parent = parent

    def verdict(self, path: str, context: Any) -> Any:
        from airflow_bridge.runtime import parent_verdict

        return parent_verdict(self.app_name, self.parent, path, _forced(context))

    def trigger_kwargs(self, path: str, context: Any) -> dict[str, Any]:
        return {"check": "parent", "app_name": self.app_name, "parent": self.parent,
                "run": {"force": _forced(context)}}


class ParentRunSensor(BaseSensorOperator):
    """Native mode: succeeds once the parent DAG's latest ``parent_task_id`` (by logical date)
    succeeded and the parent's next instant after it has not passed; crontabber's rule on
    Airflow's records, asked through the Task SDK (it sees failures, needs no credentials)."""

    template_fields = ()
    ui_color = "#fdf3d8"

    def __init__(self, *, parent_dag_id: str, parent_task_id: str, schedule: str, timezone: str = "UTC",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.parent_dag_id = parent_dag_id
        self.parent_task_id = parent_task_id
        self.schedule = schedule
        self.timezone = timezone

    def poke(self, context: Any) -> bool:
        if _forced(context):
            self.log.info("forced by params.force: not waiting for %s", self.parent_dag_id)
            return True
        latest = latest_task_instance(self.parent_dag_id, self.parent_task_id)
        problem = parent_run_problem(self.parent_dag_id, latest, self.schedule, self.timezone,
                                     dt.datetime.now(UTC))
        self.log.info("%s", problem or f"{self.parent_dag_id!r} succeeded last time and is not overdue")
        return problem is None


def latest_task_instance(dag_id: str, task_id: str) -> Any:
    """The latest task instance of ``dag_id.task_id`` by logical date (None: it never ran), from
    the Task SDK's execution API (the request ``get_previous_ti`` makes for the task's own DAG)."""
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.comms import GetPreviousTI

    response = task_runner.SUPERVISOR_COMMS.send(GetPreviousTI(dag_id=dag_id, task_id=task_id,
                                                               logical_date=FAR_FUTURE))
    return getattr(response, "task_instance", None)


def parent_run_problem(dag_id: str, latest: Any, schedule: str, timezone: str, now: dt.datetime) -> str | None:
    """crontabber's dependency rule on a parent's latest task instance (None: the child may run)."""
    from airflow_bridge.instants import schedule_of
    from airflow_bridge.runtime import aware

    if latest is None or latest.logical_date is None:
        return f"{dag_id!r} hasn't been run yet"
    state = str(getattr(latest.state, "value", latest.state) or "none")
    if state in ("failed", "upstream_failed"):
        return f"{dag_id!r} errored last time it ran"
    if state != "success":
        return f"{dag_id!r}'s latest run is {state}"
    due = schedule_of(schedule, timezone).next_after(aware(latest.logical_date))
    if due < now:
        return f"{dag_id!r} hasn't recently run (it was due {due:%Y-%m-%d %H:%M:%S} UTC)"
    return None


def _forced(context: Any) -> bool:
    return bool((context.get("params") or {}).get("force"))
