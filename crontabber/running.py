"""The bookkeeping of a run in progress, so it ends in the ledger exactly once.

A run ends in one of three ways, each one write: its result (success or failure), an
``interrupted`` record when it was stopped (SIGTERM, SIGINT, its lock lost), or nothing
at all when its runner died, in which case the next runner that takes its lock finds the
row still marked ``ongoing`` and records the interruption then (``died``). The thread
running the job and the thread stopping it may race to write that end: ``ActiveRun``
lets the first one write it and the second one find it written.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from crontabber.jobs import JobDefinition
from crontabber.outcomes import Outcome
from crontabber.rules import after_interruption, after_success
from crontabber.state import JobState, Ledger, LogEntry
from crontabber.supervision import Interrupted, StopSignal

log = logging.getLogger("crontabber")


class ActiveRun:
    """One job's run, from its ``ongoing`` row to its final one."""

    def __init__(self, job: JobDefinition, row: JobState, started: dt.datetime, lock: Any = None) -> None:
        self.job = job
        self.lock = lock  # released with the final write, in the same round trip where the store can
        self.row = row  # what the ledger holds for the run now (its last_success moves per date)
        self.started = started
        self.t0 = time.monotonic()
        self.dates: list[dt.datetime] = []
        self.pending: LogEntry | None = None  # a plain job's success, written with its final row
        self.output: Callable[[], str | None] = lambda: None
        self._lock = threading.RLock()
        self._ended = False

    def record_date(self, ledger: Ledger, row: JobState, entry: LogEntry) -> None:
        """A completed date: written at once for a backfill job (a killed runner does not repeat
        it), kept for the final write otherwise."""
        with self._lock:
            if self._ended:
                return
            if self.job.is_backfill:
                ledger.save(row, entry)
            else:
                self.pending = entry
            self.row = row
            self.dates.append(entry.success)

    def flush_pending(self, ledger: Ledger) -> None:
        """Write a plain job's recorded success now (its run then failed after all)."""
        with self._lock:
            if not self._ended and self.pending is not None:
                ledger.save(self.row, self.pending)
                self.pending = None

    def finish(self, ledger: Ledger, final: JobState, entry: LogEntry | None) -> bool:
        """Write the run's end; False when it was already written (by ``interrupt``)."""
        with self._lock:
            if self._ended:
                return False
            ledger.save(final, entry, release=self.lock)
            self._ended = True
            self.row = final
            return True

    def interrupt(self, ledger: Ledger, now: dt.datetime, stop: Interrupted) -> JobState | None:
        """Write the end of a run that was stopped: ``interrupted``, due again at once, its error
        count unchanged; or its success, when the job's code had already finished. None when
        the end was already written."""
        from crontabber.execution import Failure

        with self._lock:
            if self._ended:
                return None
            self._ended = True
            if self.pending is not None:
                final = after_success(self.job, self.row, self.started, self.dates[-1] if self.dates else None)
                ledger.save(final, self.pending)
            else:
                failure = Failure.from_exception(stop)
                final = after_interruption(self.row, self.started, stop.reason)
                ledger.save(final, LogEntry(
                    self.job.app_name, now, time.monotonic() - self.t0, Outcome.INTERRUPTED,
                    exc_type=failure.type, exc_value=failure.repr, exc_traceback="",
                    output=self.output()))
            self.row = final
            return final


def died(state: JobState, now: dt.datetime) -> tuple[JobState, LogEntry]:
    """A row still marked ``ongoing`` while we hold its lock: the run it marks never ended
    (its runner was killed, or lost its host or its database session). Its row, cleaned and
    due at once, and the log row that records the interruption."""
    from crontabber.execution import Failure

    assert state.ongoing is not None
    reason = "its runner died"
    failure = Failure.from_exception(Interrupted(
        f"the run started {state.ongoing:%Y-%m-%d %H:%M:%S} UTC never finished: {reason} (killed, "
        "or its host or its database session was lost)", 0))
    entry = LogEntry(state.app_name, now, 0.0, Outcome.INTERRUPTED, exc_type=failure.type,
                     exc_value=failure.repr, exc_traceback="")
    return after_interruption(state, state.ongoing, reason), entry


class LockWatch:
    """While jobs run, watch a ledger whose locks live in a database session (PostgreSQL): once
    the session is gone, so are the locks, and every running job is stopped at once.

    One thread, started with the first job and ended by ``close`` (at the end of a tick)."""

    POLL = 0.25

    def __init__(self, ledger: Ledger, stop: StopSignal) -> None:
        self._lost_locks: Callable[[float], bool] | None = getattr(ledger, "lost_locks", None)
        self._stop = stop
        self._users = 0
        self._mutex = threading.Lock()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LockWatch:
        if self._lost_locks is not None:
            with self._mutex:
                self._users += 1
                if self._thread is None:
                    self._thread = threading.Thread(target=self._watch, name="crontabber-lock-watch",
                                                    daemon=True)
                    self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._lost_locks is not None:
            with self._mutex:
                self._users -= 1

    def close(self) -> None:
        """Let the thread go (it ends within ``POLL`` seconds; nobody waits for it)."""
        with self._mutex:
            self._thread = None

    def _watch(self) -> None:
        assert self._lost_locks is not None
        me = threading.current_thread()
        while True:
            with self._mutex:
                if self._thread is not me:
                    return
            if self._lost_locks(self.POLL):
                with self._mutex:
                    running = self._users > 0 and self._thread is me
                if running:  # between jobs, the next ledger call fails on its own (exit 3)
                    if self._stop.request("the ledger's database session was lost", 3):
                        self._stop.stop_main_thread()
                return
