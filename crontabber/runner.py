"""One tick: decide which jobs are due, run them under their locks, record every result.

The ledger is read once per tick; each job that runs costs a lock, a re-read of
its row and its parents' rows, an "ongoing" write, one write per completed date
of a backfill job and one final write (which carries a plain job's log row).
Independent jobs may run in parallel (``max_workers``); a child due in the same
tick waits for its parents' results.

A stop request (``self.stop``: SIGTERM or SIGINT through the command line, a lost ledger
session, or an embedding program) stops the running jobs and records each as
``interrupted``; the tick then raises ``Interrupted``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crontabber import supervision
from crontabber.clock import Clock
from crontabber.config.settings import Settings
from crontabber.errors import LedgerError, UsageError
from crontabber.jobs import JobDefinition, missing_dependencies
from crontabber.outcomes import Outcome
from crontabber.rules import after_failure, after_success, dependency_problem, is_due, is_on_airflow
from crontabber.running import ActiveRun, LockWatch, died
from crontabber.state import JobState, Ledger, LogEntry
from crontabber.supervision import Interrupted, StopSignal

if TYPE_CHECKING:
    from concurrent.futures import Future

    from crontabber.execution import Failure
    from crontabber.progress import Progress

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
    """Runs configured jobs against a ledger, using ``clock`` for every "now".

    ``on_failure(job, failure)`` is called after each failed run is recorded (Sentry uses it);
    ``host`` names this runner in the heartbeat table."""

    def __init__(self, settings: Settings, ledger: Ledger, clock: Clock, max_workers: int | None = None,
                 stop: StopSignal | None = None, on_failure: Callable[[JobDefinition, Failure], None] | None = None,
                 host: str | None = None):
        self.settings = settings
        self.on_failure = on_failure
        self.host = host or _host_name()
        self.ledger = ledger
        self.clock = clock
        self.max_workers = max_workers or settings.max_workers
        self.stop = stop or supervision.installed_stop() or StopSignal()
        self._states: dict[str, JobState] = {}
        self._states_lock = threading.Lock()
        self._configured = [job.app_name for job in settings.jobs]
        self._active: dict[str, ActiveRun] = {}
        self._lock_watch = LockWatch(ledger, self.stop)

    # -- entry points ------------------------------------------------------------------
    def tick(self) -> list[JobResult]:
        """Run every due job once, in dependency order; then record this host's heartbeat."""
        for line in self.settings.config_warnings:
            log.warning("%s", line)
        for child, parent in missing_dependencies(self.settings.jobs):
            log.warning("job %s depends on %s, which is not configured: %s does not run until %s is "
                        "added to crontabber.jobs or removed from its depends_on", child, parent, child, parent)
        started, t0 = self.clock.now(), time.monotonic()
        try:
            self._states = self.ledger.load_all()
            if self.max_workers <= 1:
                results = [self._consider(job) for job in self.settings.jobs]
            else:
                results = self._tick_parallel()
        finally:
            self._lock_watch.close()
        self.ledger.beat(self.host, started, time.monotonic() - t0)
        return results

    def run_job(self, name: str, force: bool = False) -> JobResult:
        """``--job``: run one job if it is due and its parents allow it, or regardless with force."""
        job = self.settings.job(name)
        try:
            self._states = self.ledger.load([job.app_name, *job.depends_on])
            return self._consider(job, force=force)
        finally:
            self._lock_watch.close()

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
            t0 = time.monotonic()

            def one_date() -> list[dt.datetime]:
                instance._run_proxy(when)
                return [when]

            from crontabber.execution import Failure, execute  # only when a job runs (multiprocessing)

            try:
                with supervision.job_context(self.stop, getattr(lock, "fds", ())), self._lock_watch:
                    failure = execute(one_date, lambda _when: None, _fork_timeout(job))
            except Interrupted as stop:
                failure = Failure.from_exception(stop)
                self.ledger.save(state, LogEntry(
                    job.app_name, self.clock.now(), time.monotonic() - t0, Outcome.INTERRUPTED,
                    exc_type=failure.type, exc_value=failure.repr, output=_output(instance)))
                stop.jobs.append(job.app_name)
                raise
            duration = time.monotonic() - t0
            if failure is None:
                latest = max(filter(None, (state.last_success, when)))
                self.ledger.save(state.but(last_success=latest), LogEntry(  # logged when it ends, as 0.18.1
                    job.app_name, self.clock.now(), duration, Outcome.SUCCEEDED, success=when,
                    output=_output(instance)))
                return JobResult(job.app_name, Outcome.SUCCEEDED, dates=[when])
            outcome = Outcome.TIMED_OUT if failure.timed_out else Outcome.FAILED
            self.ledger.save(state, self._failure_log(job, self.clock.now(), duration, outcome, failure, instance))
            self._report(job, failure)
            return JobResult(job.app_name, outcome, failure.one_line())
        finally:
            lock.release()
            self._lock_watch.close()

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
            if state is not None and state.ongoing:
                state = self._after_death(state)
            reason = unless(state) if unless is not None else None
            if reason is not None:
                return JobResult(job.app_name, Outcome.NOT_DUE, reason)
            return self._run(job, state, only_date=date if job.is_backfill else None, lock=lock)
        finally:
            lock.release()
            self._lock_watch.close()

    # -- one job ----------------------------------------------------------------------
    def _tick_parallel(self) -> list[JobResult]:
        from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait  # only parallel ticks

        futures: dict[str, Future[JobResult]] = {}
        pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="job")
        try:
            # Submitted in topological order, so every parent starts before its child does.
            for job in self.settings.jobs:
                parents = [futures[p] for p in job.depends_on if p in futures]
                futures[job.app_name] = pool.submit(self._after_parents, job, parents)
            pending = set(futures.values())
            while pending:  # in steps, so a stop request is seen while workers run
                self.stop.check()
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
                failed = next((future for future in done if future.exception() is not None), None)
                if failed is not None:
                    raise failed.exception()
            results = [futures[job.app_name].result() for job in self.settings.jobs]
        except (Interrupted, LedgerError) as exc:
            self._stop_workers(pool, futures, exc)
            raise
        pool.shutdown(wait=True)
        return results

    def _stop_workers(self, pool: Any, futures: dict[str, Future[JobResult]], exc: BaseException) -> None:
        """Stop every running job (a ledger error stops them too: with a lost PostgreSQL session
        their locks are gone); jobs in processes of their own are stopped and recorded by their
        threads, Python jobs running in this process are recorded here and end with it."""
        from concurrent.futures import wait

        from crontabber.legacy.process import TERM_GRACE

        reason = exc.reason if isinstance(exc, Interrupted) else "the ledger failed"
        self.stop.request(reason, exc.exit_code if isinstance(exc, Interrupted) else 3)
        pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + TERM_GRACE + 3
        names = {future: name for name, future in futures.items()}
        with self._states_lock:  # the threads that stop a process of their own, then record the job
            targets = {name for name, active in self._active.items() if not _in_this_process(active.job)}
        done, pending = wait(futures.values(), timeout=0)
        while time.monotonic() < deadline:
            waiting = {names[future] for future in pending}
            if not waiting & targets and not self._stopping_in_processes(waiting):
                break
            done, pending = wait(futures.values(), timeout=0.05)
        if not isinstance(exc, Interrupted):
            return
        for future in done:
            other = None if future.cancelled() else future.exception()
            if isinstance(other, Interrupted) and other is not exc:
                exc.jobs.extend(other.jobs)
        for active in list(self._active.values()):
            if active.interrupt(self.ledger, self.clock.now(), exc) is not None:
                exc.jobs.append(active.job.app_name)

    def _stopping_in_processes(self, names: set[str]) -> bool:
        """Whether one of ``names`` is a running job whose own process its thread is still stopping
        and recording (a Python job running in this process ends with it instead)."""
        with self._states_lock:
            return any(name in names and not _in_this_process(active.job) for name, active in self._active.items())

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
        self.stop.check()
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
        started = self.clock.now()
        claim = self.ledger.claim(name, [name, *job.depends_on], started, job.depends_on)
        if claim is None:
            return JobResult(name, Outcome.SKIPPED_LOCKED, "already running in another process")
        try:
            with self._states_lock:
                self._states.update(claim.states)
            state, marked = claim.states.get(name), True  # the claim marked the row ongoing
            if state is not None and state.ongoing:  # we hold its lock: that run never ended
                state, marked = self._after_death(state), False
            if not force and self._blocked(job, state, self.clock.now()):  # another runner got there first
                if marked and state is not None:  # take the mark back before saying why
                    self.ledger.save(state)
                elif marked:
                    self.ledger.reset(name)
                return self._not_now(job, state, self.clock.now()) or JobResult(name, Outcome.NOT_DUE)
            return self._run(job, state, lock=claim.lock, marked_at=started if marked else None)
        finally:
            claim.lock.release()

    def _blocked(self, job: JobDefinition, state: JobState | None, now: dt.datetime) -> bool:
        """Whether the job may not run now (not due, or a parent does not allow it); no writes."""
        with self._states_lock:
            return (not is_due(job, state, now)
                    or dependency_problem(job.depends_on, self._states, now, self._configured) is not None)

    def _after_death(self, state: JobState) -> JobState:
        """Record the interruption of a run whose runner died; the row, due again at once."""
        cleaned, entry = died(state, self.clock.now())
        self.ledger.save(cleaned, entry)
        self._remember(cleaned)
        log.warning("job %s: the run started %s UTC never finished (its runner died); recorded as interrupted",
                    state.app_name, f"{state.ongoing:%Y-%m-%d %H:%M:%S}")
        return cleaned

    def _not_now(self, job: JobDefinition, state: JobState | None, now: dt.datetime) -> JobResult | None:
        """A skip result when the job is not due or its parents block it, else None."""
        name = job.app_name
        if state is not None and state.ongoing:
            return None  # running elsewhere (its lock will say), or its runner died: look under the lock
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

    def _run(self, job: JobDefinition, state: JobState | None, only_date: dt.datetime | None = None,
             lock: object = None, marked_at: dt.datetime | None = None) -> JobResult:
        """Run the job under ``lock``; ``marked_at``: when the claim already marked its row ongoing."""
        name = job.app_name
        started = marked_at or self.clock.now()
        active = ActiveRun(job, (state or JobState(name)).but(ongoing=started, depends_on=tuple(job.depends_on)),
                           started, lock)
        with self._states_lock:
            self._active[name] = active
        instance = None
        active.output = lambda: _output(instance)
        progress = _backfill_progress(job, state, started) if only_date is None else None
        try:
            if marked_at is None:
                self.ledger.save(active.row)

            def run_dates():  # builds the job inside the (possibly forked) process that runs it
                nonlocal instance
                instance = self._instance(job, state, started)
                return instance.main() if only_date is None else _one_date(instance, only_date)

            def record(when: dt.datetime) -> None:
                if progress is not None:
                    progress.step()
                row = active.row.but(last_success=max(filter(None, (active.row.last_success, when))))
                active.record_date(self.ledger, row, LogEntry(
                    name, self.clock.now(), time.monotonic() - active.t0, Outcome.SUCCEEDED, success=when,
                    output=_output(instance)))
                active.t0 = time.monotonic()

            from crontabber.execution import execute  # only when a job runs (multiprocessing)

            with supervision.job_context(self.stop, getattr(lock, "fds", ())), self._lock_watch:
                failure = execute(run_dates, record, _fork_timeout(job))
            return self._finish(active, failure, instance)
        except Interrupted as stop:
            final = active.interrupt(self.ledger, self.clock.now(), stop)
            if final is not None:
                self._remember(final)
                stop.jobs.append(name)
                log.info("job %s interrupted (%s); it runs again at the next tick", name, stop.reason)
            raise
        finally:
            if progress is not None:
                progress.close()
            with self._states_lock:
                self._active.pop(name, None)

    def _finish(self, active: ActiveRun, failure: Failure | None, instance: object) -> JobResult:
        """Write the run's result (unless a stop wrote its end first)."""
        job, name = active.job, active.job.app_name
        dates = list(active.dates)
        last_date = dates[-1] if dates else None
        if failure is None:
            final = after_success(job, active.row, active.started, last_date)
            if active.finish(self.ledger, final, active.pending):
                self._remember(final)
            return JobResult(name, Outcome.SUCCEEDED, dates=dates)
        active.flush_pending(self.ledger)  # a date that completed before the failure stays recorded
        outcome = Outcome.TIMED_OUT if failure.timed_out else Outcome.FAILED
        final = after_failure(job, active.row, active.started, last_date, failure)
        if active.finish(self.ledger, final, self._failure_log(
                job, self.clock.now(), time.monotonic() - active.t0, outcome, failure, instance)):
            self._remember(final)
        log.warning("job %s %s: %s (error %d in a row; next try %s UTC)", name,
                    "timed out" if failure.timed_out else "failed", failure.one_line(),
                    final.error_count, f"{final.next_run:%Y-%m-%d %H:%M:%S}")
        self._report(job, failure)
        return JobResult(name, outcome, failure.one_line(), dates=dates)

    def _report(self, job: JobDefinition, failure: Failure) -> None:
        if self.on_failure is not None:
            self.on_failure(job, failure)

    @staticmethod
    def _failure_log(job: JobDefinition, when: dt.datetime, duration: float, outcome: Outcome,
                     failure: Failure, instance: object) -> LogEntry:
        return LogEntry(job.app_name, when, duration, outcome, exc_type=failure.type,
                        exc_value=failure.repr, exc_traceback=failure.traceback,
                        output=_output(instance))


def _backfill_progress(job: JobDefinition, state: JobState | None, now: dt.datetime) -> Progress | None:
    """A progress report when a backfill job has several missed dates to run."""
    if not job.is_backfill or state is None or state.last_success is None:
        return None
    total = sum(1 for _ in job.schedule.backfill_dates(state.last_success, now))
    if total < 2:
        return None
    from crontabber.progress import Progress

    return Progress(f"backfill {job.app_name}", total, "dates")


def _host_name() -> str:
    """This runner's name in the heartbeat table ($CRONTABBER_HOST, else the host name)."""
    import os
    import socket

    return os.environ.get("CRONTABBER_HOST", "").strip() or socket.gethostname()


def _one_date(instance: object, when: dt.datetime) -> Iterator[dt.datetime]:
    """A backfill job's run for one given date (``run_once``)."""
    instance._run_proxy(when)  # type: ignore[attr-defined]
    yield when


def _in_this_process(job: JobDefinition) -> bool:
    """A Python job without a timeout runs in the runner's own process (no process of its own)."""
    return job.kind == "python" and _fork_timeout(job) is None


def _fork_timeout(job: JobDefinition) -> float | None:
    """The timeout to enforce by forking: Python jobs only (shell and procedure jobs enforce
    their own, killing the process group or cancelling the statement)."""
    return job.settings.timeout if job.kind == "python" else None


def _output(instance: object) -> str | None:
    """The captured output a job left on ``crontabber_output`` (shell and procedure jobs do)."""
    return getattr(instance, "crontabber_output", None) if instance is not None else None
