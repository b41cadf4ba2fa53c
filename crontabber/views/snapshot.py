"""One look at the jobs: each job's state word, times, errors, recent runs and where it runs.

The graph, the status page, the metrics and the Airflow plugin all draw this one
snapshot, and the state word is ``crontabber list``'s (``job_status``), so no two
views can disagree. Building it reads the ledger and never writes it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from crontabber.cli.listing import job_status
from crontabber.config.settings import Settings
from crontabber.heartbeat import RunnerHealth, judge
from crontabber.jobs import JobDefinition
from crontabber.rules import is_on_airflow
from crontabber.state import JobState, Ledger, LogEntry, RunnerBeat

RUNS_SHOWN = 10
STATES = ("ok", "failing", "waiting", "running", "never run", "on Airflow")
_CLASS_REPR = re.compile(r"^<class '([^']*)'>$")


@dataclass(frozen=True)
class RunMark:
    """One past run, for the strip of recent outcomes."""

    when: dt.datetime
    outcome: str  # an Outcome value, or an Airflow DAG run state
    duration: float | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in ("succeeded", "success")


@dataclass
class JobView:
    """Everything the views show about one job."""

    job: JobDefinition
    status: str  # one of STATES, exactly as ``crontabber list`` says it
    state: JobState | None
    next_run: dt.datetime | None
    runs_on: str  # "cron", "Airflow bridge", "Airflow native" or "Airflow"
    depth: int  # 0 for a job without configured parents
    runs: list[RunMark] = field(default_factory=list)  # newest first
    last_output: str | None = None
    dag_url: str | None = None
    airflow_note: str = ""  # where the runs are when the ledger does not have them
    last_success_override: dt.datetime | None = None  # native jobs: from Airflow
    error_count_override: int | None = None

    @property
    def name(self) -> str:
        return self.job.app_name

    @property
    def last_success(self) -> dt.datetime | None:
        if self.last_success_override is not None:
            return self.last_success_override
        return self.state.last_success if self.state else None

    @property
    def error_count(self) -> int:
        if self.error_count_override is not None:
            return self.error_count_override
        return self.state.error_count if self.state else 0

    @property
    def running_since(self) -> dt.datetime | None:
        return self.state.ongoing if self.state else None

    @property
    def last_duration(self) -> float | None:
        return next((run.duration for run in self.runs if run.duration is not None), None)

    def overdue(self, now: dt.datetime) -> float:
        """Seconds past its next run (0 when not late, running, or run by Airflow)."""
        if self.status in ("running", "on Airflow") or self.state is None or self.state.next_run is None:
            return 0.0
        return max((now - self.state.next_run).total_seconds(), 0.0)

    def error(self) -> tuple[str, str, str] | None:
        """(short type, message, traceback) of the last error, or None."""
        error = self.state.last_error if self.state else None
        if not error or not self.error_count or self.error_count_override is not None:
            return None  # an override comes from Airflow, whose errors are in its own task logs
        return short_type(str(error.get("type", "error"))), str(error.get("value", "")), \
            str(error.get("traceback", "") or "")


@dataclass
class Snapshot:
    """The jobs of one configuration at one instant, in run order."""

    settings: Settings
    now: dt.datetime
    jobs: list[JobView]
    runners: list[RunnerHealth]
    ledger: str  # where the ledger is, password removed
    missing: list[tuple[str, str]] = field(default_factory=list)  # (child, unconfigured parent)


def short_type(text: str) -> str:
    """``"<class 'pkg.mod.Failed'>"`` or ``"pkg.mod.Failed"`` -> ``"Failed"``."""
    match = _CLASS_REPR.match(text.strip())
    return (match.group(1) if match else text.strip()).rsplit(".", 1)[-1]


def depths(jobs: Sequence[JobDefinition]) -> dict[str, int]:
    """Dependency depth of each job: 0 without configured parents, else 1 + the deepest parent."""
    found: dict[str, int] = {}
    names = {job.app_name for job in jobs}
    for job in jobs:  # run order: every parent comes before its children
        parents = [found.get(parent, 0) for parent in job.depends_on if parent in names and parent != job.app_name]
        found[job.app_name] = 1 + max(parents) if parents else 0
    return found


def planned_run(job: JobDefinition, state: JobState | None, now: dt.datetime) -> dt.datetime | None:
    """When the job runs next, as ``list`` shows it (a job without a row: when it first may)."""
    planned = state.next_run if state is not None else None
    if state is None or (state.last_run is None and planned is None):
        planned = now if job.schedule.due_without_row(now) else job.schedule.next_after(now)
    return planned


def build(settings: Settings, states: Mapping[str, JobState], now: dt.datetime,
          logs: Mapping[str, Sequence[LogEntry]] | None = None, runners: Sequence[RunnerBeat] = (),
          ledger: str = "", airflow_url: str | None = None) -> Snapshot:
    """The snapshot of ``settings``' jobs over ledger rows, log rows and heartbeats."""
    from crontabber.jobs import missing_dependencies

    depth = depths(settings.jobs)
    views = []
    for job in settings.jobs:
        state = states.get(job.app_name)
        entries = list((logs or {}).get(job.app_name, ()))[:RUNS_SHOWN]
        view = JobView(job=job, status=job_status(job, state, now), state=state,
                       next_run=planned_run(job, state, now), runs_on="cron", depth=depth[job.app_name],
                       runs=[RunMark(entry.log_time, entry.outcome.value, entry.duration) for entry in entries],
                       last_output=next((entry.output for entry in entries if entry.output), None))
        if is_on_airflow(job, now) or job.settings.on_airflow_since is not None:
            _airflow_side(view, entries, now, airflow_url)
        views.append(view)
    return Snapshot(settings=settings, now=now, jobs=views,
                    runners=judge(runners, now, settings.runner_silent_after), ledger=ledger,
                    missing=missing_dependencies(settings.jobs))


def _airflow_side(view: JobView, entries: Sequence[LogEntry], now: dt.datetime, airflow_url: str | None) -> None:
    """Where a job with a cutover runs, judged from the ledger alone (the Airflow plugin asks Airflow)."""
    since = view.job.settings.on_airflow_since
    if airflow_url:
        from airflow_bridge.mapping import dag_id_for  # pure data: no Airflow import

        view.dag_url = f"{airflow_url.rstrip('/')}/dags/{dag_id_for(view.job.app_name)}"
    if not is_on_airflow(view.job, now):
        return
    if any(entry.log_time >= since for entry in entries):
        view.runs_on = "Airflow bridge"
    else:
        view.runs_on = "Airflow"
        view.next_run = None  # the ledger's is from before the cutover
        view.airflow_note = ("no run in the ledger since the cutover: if the DAG runs in native mode, "
                             "its runs are recorded by Airflow only")


def read(settings: Settings, ledger: Ledger, now: dt.datetime, airflow_url: str | None = None,
         with_logs: bool = True) -> Snapshot:
    """Read the ledger (rows, each job's last runs, heartbeats) and build the snapshot."""
    states = ledger.load_all()
    logs = {job.app_name: ledger.logs(job.app_name, RUNS_SHOWN) for job in settings.jobs} if with_logs else {}
    return build(settings, states, now, logs, ledger.runners(), ledger.description, airflow_url)
