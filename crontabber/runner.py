"""One tick: decide which jobs are due, run them under their locks, record every result.

The ledger is read once per tick; each job that runs costs a lock, a re-read of
its row and its parents' rows, an "ongoing" write, one write per completed date
of a backfill job and one final write (which carries a plain job's log row).
Independent jobs may run in parallel (``max_workers``); a child due in the same
tick waits for its parents' results.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crontabber.clock import Clock
from crontabber.config.settings import Settings
from crontabber.errors import UsageError
from crontabber.jobs import JobDefinition
from crontabber.outcomes import Outcome
from crontabber.rules import after_failure, after_success, dependency_problem, is_due, is_on_airflow
from crontabber.state import JobState, Ledger, LogEntry

if TYPE_CHECKING:
    from concurrent.futures import Future

    from crontabber.execution import Failure

log = logging.getLogger("crontabber")


@dataclass
class JobResult:
    """What happened to one job in a tick."""

    app_name: str
    outcome: Outcome
    reason: str = ""
    dates: list[dt.datetime] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.app_name}: {self.outcome.value}"
        return f"{text} ({self.reason})" if self.reason else text


class Runner:
    """Runs configured jobs against a ledger, using ``clock`` for every "now"."""

    def __init__(self, settings: Settings, ledger: Ledger, clock: Clock, max_workers: int | None = None):
        self.settings = settings
        self.ledger = ledger
        self.clock = clock
        self.max_workers = max_workers or settings.max_workers
        self._states: dict[str, JobState] = {}
        self._states_lock = threading.Lock()
        self._configured = [job.app_name for job in settings.jobs]

    # -- entry points ------------------------------------------------------------------
    def tick(self) -> list[JobResult]:
        """Run every due job once, in dependency order."""
        self._states = self.ledger.load_all()
        if self.max_workers <= 1:
            return [self._consider(job) for job in self.settings.jobs]
        return self._tick_parallel()

    def run_job(self, name: str, force: bool = False) -> JobResult:
        """``--job``: run one job if it is due and its parents allow it, or regardless with force."""
        job = self.settings.job(name)
        self._states = self.ledger.load([job.app_name, *job.depends_on])
        return self._consider(job, force=force)

    def run_date(self, name: str, when: dt.datetime) -> JobResult:
        """``--job X --date D``: run a backfill job for one date; ``last_success`` only moves forward."""
        job = self.settings.job(name)
        if not job.is_backfill:
            raise UsageError(f"--date needs a backfill job; {job.app_name!r} is not one "
                             "(drop --date, or decorate the class with @as_backfill_cron_app)")
        lock = self.ledger.try_lock(job.app_name)
        if lock is None:
            return JobResult(job.app_name, Outcome.SKIPPED_LOCKED, "another process is running it")
        try:
            state = self.ledger.load([job.app_name]).get(job.app_name) or JobState(
                job.app_name, depends_on=tuple(job.depends_on))
            instance = self._instance(job, state, when)
            started, t0 = self.clock.now(), time.monotonic()

            def one_date() -> list[dt.datetime]:
                instance._run_proxy(when)
                return [when]

            from crontabber.execution import execute  # only when a job runs (multiprocessing)

            failure = execute(one_date, lambda _when: None, _fork_timeout(job))
            duration = time.monotonic() - t0
            if failure is None:
                latest = max(filter(None, (state.last_success, when)))
                self.ledger.save(state.but(last_success=latest), LogEntry(
                    job.app_name, started, duration, Outcome.SUCCEEDED, success=when,
                    output=_output(instance)))
                return JobResult(job.app_name, Outcome.SUCCEEDED, dates=[when])
            outcome = Outcome.TIMED_OUT if failure.timed_out else Outcome.FAILED
            self.ledger.save(state, self._failure_log(job, started, duration, outcome, failure, instance))
            return JobResult(job.app_name, outcome, failure.one_line())
        finally:
            lock.release()

    def run_once(self, name: str, date: dt.datetime | None = None,
                 unless: Callable[[JobState | None], str | None] | None = None) -> JobResult:
        """Run one job now, whatever its schedule and parents say (the caller decided), under its
        lock and with the normal bookkeeping; a backfill job runs for ``date`` only (without one,
        for the dates it missed, as a tick would). ``unless`` sees the row re-read under the lock
        and may return why not to run after all (NOT_DUE with that reason). The Airflow bridge
        calls this."""
        job = self.settings.job(name)
        lock = self.ledger.try_lock(job.app_name)
        if lock is None:
            return JobResult(job.app_name, Outcome.SKIPPED_LOCKED, "another process is running it")
        try:
            state = self.ledger.load([job.app_name]).get(job.app_name)
            reason = unless(state) if unless is not None else None
            if reason is not None:
                return JobResult(job.app_name, Outcome.NOT_DUE, reason)
            return self._run(job, state, only_date=date if job.is_backfill else None)
        finally:
            lock.release()

    # -- one job ----------------------------------------------------------------------
    def _tick_parallel(self) -> list[JobResult]:
        from concurrent.futures import ThreadPoolExecutor  # only parallel ticks need threads

        futures: dict[str, Future[JobResult]] = {}
        with ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="job") as pool:
            # Submitted in topological order, so every parent starts before its child does.
            for job in self.settings.jobs:
                parents = [futures[p] for p in job.depends_on if p in futures]
                futures[job.app_name] = pool.submit(self._after_parents, job, parents)
            return [futures[job.app_name].result() for job in self.settings.jobs]

    def _after_parents(self, job: JobDefinition, parents: list[Future[JobResult]]) -> JobResult:
        for parent in parents:
            parent.exception()  # wait for the parent's result, whatever it was
        return self._consider(job)

    def _state(self, name: str) -> JobState | None:
        with self._states_lock:
            return self._states.get(name)

    def _remember(self, state: JobState) -> None:
        with self._states_lock:
            self._states[state.app_name] = state

    def _consider(self, job: JobDefinition, force: bool = False) -> JobResult:
        now = self.clock.now()
        name = job.app_name
        if not force and is_on_airflow(job, now):
            return JobResult(name, Outcome.SKIPPED_ON_AIRFLOW,
                             f"on Airflow since {job.settings.on_airflow_since:%Y-%m-%d %H:%M} UTC")
        state = self._state(name)
        if not force:
            skip = self._not_now(job, state, now)
            if skip is not None:
                return skip
        lock = self.ledger.try_lock(name)
        if lock is None:
            return JobResult(name, Outcome.SKIPPED_LOCKED, "already running in another process")
        try:
            fresh = self.ledger.load([name, *job.depends_on])
            with self._states_lock:
                self._states.update(fresh)
            state = fresh.get(name)
            if not force:
                skip = self._not_now(job, state, self.clock.now())
                if skip is not None:
                    return skip
            return self._run(job, state)
        finally:
            lock.release()

    def _not_now(self, job: JobDefinition, state: JobState | None, now: dt.datetime) -> JobResult | None:
        """A skip result when the job is not due or its parents block it, else None."""
        name = job.app_name
        if not is_due(job, state, now):
            if state is None and not job.schedule.due_without_row(now) and hasattr(job.schedule, "expression"):
                # NEW: a cron job's first sighting records when it will first run.
                first = JobState(name, next_run=job.schedule.next_after(now), depends_on=tuple(job.depends_on))
                self.ledger.save(first)
                self._remember(first)
            return JobResult(name, Outcome.NOT_DUE)
        with self._states_lock:
            problem = dependency_problem(job.depends_on, self._states, now, self._configured)
        if problem is not None:
            if state is None or state.skip_reason != problem:
                self.ledger.set_skip_reason(name, problem, job.depends_on, state)
            log.info("skipping %s: %s", name, problem)
            return JobResult(name, Outcome.SKIPPED_DEPENDENCY, problem)
        return None

    def _instance(self, job: JobDefinition, state: JobState | None, now: dt.datetime) -> object:
        info = state.as_job_information() if state is not None else None
        instance = job.job_class(job.config, info)
        instance.crontabber_now = now
        instance.crontabber_schedule = job.schedule
        instance.crontabber_settings = job.settings
        instance.crontabber_database_url = self.settings.database_url
        return instance

    def _run(self, job: JobDefinition, state: JobState | None, only_date: dt.datetime | None = None) -> JobResult:
        name = job.app_name
        started = self.clock.now()
        row = (state or JobState(name)).but(ongoing=started, depends_on=tuple(job.depends_on))
        self.ledger.save(row)
        dates: list[dt.datetime] = []
        t0 = time.monotonic()
        instance = None

        def run_dates():  # builds the job inside the (possibly forked) process that runs it
            nonlocal instance
            instance = self._instance(job, state, started)
            return instance.main() if only_date is None else _one_date(instance, only_date)

        pending: LogEntry | None = None  # a plain job's success travels with its final row

        def record(when: dt.datetime) -> None:
            nonlocal row, t0, pending
            duration = time.monotonic() - t0
            row = row.but(last_success=max(filter(None, (row.last_success, when))))
            entry = LogEntry(name, self.clock.now(), duration, Outcome.SUCCEEDED, success=when,
                             output=_output(instance))
            if job.is_backfill:  # each completed date at once: a killed runner does not repeat it
                self.ledger.save(row, entry)
            else:
                pending = entry
            dates.append(when)
            t0 = time.monotonic()

        from crontabber.execution import execute  # only when a job runs (multiprocessing)

        failure = execute(run_dates, record, _fork_timeout(job))
        last_date = dates[-1] if dates else None
        if failure is None:
            final = after_success(job, row, started, last_date)
            self.ledger.save(final, pending)
            self._remember(final)
            return JobResult(name, Outcome.SUCCEEDED, dates=dates)
        if pending is not None:
            self.ledger.save(row, pending)
        outcome = Outcome.TIMED_OUT if failure.timed_out else Outcome.FAILED
        final = after_failure(job, row, started, last_date, failure)
        self.ledger.save(final, self._failure_log(job, self.clock.now(), time.monotonic() - t0,
                                                  outcome, failure, instance))
        self._remember(final)
        log.warning("job %s %s: %s (error %d in a row; next try %s UTC)", name,
                    "timed out" if failure.timed_out else "failed", failure.one_line(),
                    final.error_count, f"{final.next_run:%Y-%m-%d %H:%M:%S}")
        return JobResult(name, outcome, failure.one_line(), dates=dates)

    @staticmethod
    def _failure_log(job: JobDefinition, when: dt.datetime, duration: float, outcome: Outcome,
                     failure: Failure, instance: object) -> LogEntry:
        return LogEntry(job.app_name, when, duration, outcome, exc_type=failure.type,
                        exc_value=failure.value, exc_traceback=failure.traceback,
                        output=_output(instance))


def _one_date(instance: object, when: dt.datetime) -> Iterator[dt.datetime]:
    """A backfill job's run for one given date (``run_once``)."""
    instance._run_proxy(when)  # type: ignore[attr-defined]
    yield when


def _fork_timeout(job: JobDefinition) -> float | None:
    """The timeout to enforce by forking: Python jobs only (shell and procedure jobs enforce
    their own, killing the process group or cancelling the statement)."""
    return job.settings.timeout if job.kind == "python" else None


def _output(instance: object) -> str | None:
    """The captured output a job left on ``crontabber_output`` (shell and procedure jobs do)."""
    return getattr(instance, "crontabber_output", None) if instance is not None else None
