"""Running one job's code: in this process, or in a forked child when the job has a timeout.

The job yields each date it completed; ``execute`` hands every one to
``on_date`` as it arrives, so the runner records it at once and a runner killed
mid-backfill does not repeat completed dates. Failures come back as ``Failure``
values, never as exceptions, so the caller writes exactly one ledger row for them.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from crontabber import supervision
from crontabber.errors import LedgerError
from crontabber.errortext import one_line


class JobTimeout(Exception):
    """A job ran longer than its ``timeout`` and was killed (a shell job's whole process group)."""


class ChildDied(Exception):
    """The forked process that ran a job with a timeout exited without reporting a result."""


@dataclass(frozen=True)
class Failure:
    """Why a run failed, in 0.18.1's ledger text (``errortext``): ``type`` is ``repr(type(e))``,
    ``value`` is ``str(e)``, ``repr`` is ``repr(e)``; plus the formatted traceback."""

    type: str
    value: str
    repr: str
    traceback: str
    timed_out: bool = False
    exception: BaseException | None = field(default=None, compare=False, repr=False)
    """The exception itself when the job failed in this process (Sentry reports its frames)."""

    @classmethod
    def from_exception(cls, exc: BaseException) -> Failure:
        from crontabber.redaction import redact

        return cls(repr(type(exc)), redact(str(exc)), redact(repr(exc)),
                   redact("".join(traceback.format_tb(exc.__traceback__))),
                   timed_out=isinstance(exc, JobTimeout), exception=exc)

    @classmethod
    def without_traceback(cls, exc: BaseException) -> Failure:
        """A failure the runner observed (a timeout, a dead child) rather than caught."""
        from crontabber.redaction import redact

        return cls(repr(type(exc)), redact(str(exc)), redact(repr(exc)), "", timed_out=isinstance(exc, JobTimeout))

    def as_last_error(self) -> dict[str, str]:
        """The ``last_error`` JSON of 0.18.1: type, value, traceback."""
        return {"type": self.type, "value": self.value, "traceback": self.traceback}

    def one_line(self) -> str:
        return one_line(self.type, self.value)


def execute(dates: Callable[[], Iterator[dt.datetime]], on_date: Callable[[dt.datetime], None],
            timeout: float | None = None) -> Failure | None:
    """Iterate ``dates()`` (which runs the job) and report each date; None when all succeeded."""
    if timeout:
        return _execute_forked(dates, on_date, timeout)
    try:
        with supervision.interruptible():  # the job's code: SIGTERM stops it where it stands
            iterator = iter(dates())
        while True:
            with supervision.interruptible():
                try:
                    when = next(iterator)
                except StopIteration:
                    break
            on_date(when)  # the bookkeeping is never cut in half
    except LedgerError:  # recording failed: the ledger's fault, not the job's (exit 3)
        raise
    except Exception as exc:  # a job's failure is data for the ledger, not a crash of the tick
        return Failure.from_exception(exc)
    return None


def _execute_forked(dates: Callable[[], Iterator[dt.datetime]], on_date: Callable[[dt.datetime], None],
                    timeout: float) -> Failure | None:
    """Run in a forked child in its own process group, under a watcher (the runner's death kills
    the group); kill the group when time is up or the runner is asked to stop."""
    stop = supervision.current_stop()
    context = multiprocessing.get_context("fork")
    watcher = supervision.Watcher(supervision.current_keep())
    gate = supervision.Gate()
    try:
        with supervision.forking():  # no other fork copies the result pipe, or misses an owned fd
            receiver, sender = context.Pipe(duplex=False)
            child = context.Process(target=_child, args=(dates, sender, gate), daemon=False)
            try:
                child.start()
            finally:
                sender.close()
    except BaseException:
        gate.close()
        watcher.release()
        raise
    try:
        watcher.guard(child.pid)
        gate.open()
        return _wait_for_child(child, receiver, on_date, timeout, stop)
    finally:
        gate.close()
        # Stopped, timed out, done or failed: kill the group (whatever the job left running in
        # it too) before reaping its leader, whose pid names the group until then.
        _kill_group(child.pid)
        child.join()
        _drain(receiver, on_date)  # dates a stopped child completed are recorded, not redone
        watcher.release()
        receiver.close()


def _wait_for_child(child: Any, receiver: Any, on_date: Callable[[dt.datetime], None], timeout: float,
                    stop: supervision.StopSignal | None) -> Failure | None:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if stop is not None and stop.requested:
            raise stop.exception()
        if remaining <= 0:
            return Failure.without_traceback(JobTimeout(f"killed after the {timeout:g} s timeout"))
        if not receiver.poll(min(remaining, 0.2)):
            continue
        try:
            message = receiver.recv()
        except EOFError:
            _kill_group(child.pid)
            child.join()
            return Failure.without_traceback(ChildDied(
                f"the job's process exited with code {child.exitcode} before reporting a result"))
        kind = message[0]
        if kind == "date":
            on_date(message[1])
        elif kind == "done":
            return None
        else:
            return Failure(*message[1:])


def _drain(receiver: Any, on_date: Callable[[dt.datetime], None]) -> None:
    """Record the dates a killed child had completed and reported (it is dead: no wait)."""
    try:
        while receiver.poll(0):
            message = receiver.recv()
            if message[0] == "date":
                on_date(message[1])
    except (EOFError, OSError):
        pass


def _child(dates: Callable[[], Iterator[dt.datetime]], sender: Any, gate: supervision.Gate) -> None:
    os.setsid()  # its own process group, so a timeout kills whatever the job started
    supervision.drop_owned()  # not the runner's database session, locks or lifelines
    for signum in (signal.SIGTERM, signal.SIGINT):  # a plain process: SIGTERM ends it
        signal.signal(signum, signal.SIG_DFL)
    if not gate.wait():  # the runner died before the watcher guarded us: run nothing
        os._exit(0)
    try:
        for when in dates():
            sender.send(("date", when))
    except BaseException as exc:
        failure = Failure.from_exception(exc)
        sender.send(("failed", failure.type, failure.value, failure.repr, failure.traceback, failure.timed_out))
    else:
        sender.send(("done",))
    sender.close()


def _kill_group(pid: int | None) -> None:
    """SIGKILL the child's process group; the child alone when it has not made its group yet
    (it then has run no job code, so it has started nothing)."""
    if pid is None:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return
    from crontabber.legacy.process import kill_group

    kill_group(pid, None, grace=0)  # SIGKILL is only queued: return once no member runs
