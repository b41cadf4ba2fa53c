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
        return cls(repr(type(exc)), str(exc), repr(exc), "".join(traceback.format_tb(exc.__traceback__)),
                   timed_out=isinstance(exc, JobTimeout), exception=exc)

    @classmethod
    def without_traceback(cls, exc: BaseException) -> Failure:
        """A failure the runner observed (a timeout, a dead child) rather than caught."""
        return cls(repr(type(exc)), str(exc), repr(exc), "", timed_out=isinstance(exc, JobTimeout))

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
        for when in dates():
            on_date(when)
    except LedgerError:  # recording failed: the ledger's fault, not the job's (exit 3)
        raise
    except Exception as exc:  # a job's failure is data for the ledger, not a crash of the tick
        return Failure.from_exception(exc)
    return None


def _execute_forked(dates: Callable[[], Iterator[dt.datetime]], on_date: Callable[[dt.datetime], None],
                    timeout: float) -> Failure | None:
    """Run in a forked child in its own process group; kill the group when time is up."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(dates, sender), daemon=False)
    child.start()
    sender.close()
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not receiver.poll(remaining):
                if remaining <= 0 or child.is_alive():
                    _kill_group(child.pid)
                    child.join()
                    return Failure.without_traceback(JobTimeout(f"killed after the {timeout:g} s timeout"))
            try:
                message = receiver.recv()
            except EOFError:
                child.join()
                return Failure.without_traceback(ChildDied(
                    f"the job's process exited with code {child.exitcode} before reporting a result"))
            kind = message[0]
            if kind == "date":
                on_date(message[1])
            elif kind == "done":
                child.join()
                return None
            else:
                child.join()
                return Failure(*message[1:])
    finally:
        receiver.close()
        if child.is_alive():  # recording a date failed: do not leave the job running unlocked
            _kill_group(child.pid)
            child.join()


def _child(dates: Callable[[], Iterator[dt.datetime]], sender: Any) -> None:
    os.setsid()  # its own process group, so a timeout kills whatever the job started
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
    if pid is None:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
