"""The scheduling rules of design §5 as pure functions over ledger rows and an instant.

The runner, ``list``, Nagios and the Airflow bridge's ledger sensor all decide
"is it due?" and "do its parents allow it?" here, so they can never disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from crontabber.jobs import JobDefinition
from crontabber.state import JobState

if TYPE_CHECKING:  # execution imports multiprocessing, which list and Nagios never need
    from crontabber.execution import Failure


def is_due(job: JobDefinition, state: JobState | None, now: dt.datetime) -> bool:
    """Due when it has never run and its schedule allows a first run now, or ``next_run <= now``;
    a row marked ``ongoing`` is due too: either a runner runs it (its lock says so) or its run
    was cut short (its runner died), and an interrupted run, forced or not, is due at once."""
    if state is not None and state.ongoing:
        return True
    if state is None or (state.next_run is None and state.last_run is None):
        return job.schedule.due_without_row(now)
    if state.next_run is None:  # ran before, or died mid-run: retry now
        return True
    return state.next_run <= now


def dependency_problem(depends_on: Sequence[str], states: Mapping[str, JobState],
                       now: dt.datetime, configured: Sequence[str] | None = None) -> str | None:
    """Why the parents do not allow a run now (None when they all do).

    A parent allows it when its row has ``last_run`` set, no ``last_error`` and a
    ``next_run`` that is not in the past (0.18.1's rule).
    """
    for parent in depends_on:
        if configured is not None and parent not in configured:
            return f"depends on {parent!r}, which is not configured"
        state = states.get(parent)
        if state is None or state.last_run is None:
            return f"{parent!r} hasn't been run yet"
        if state.last_error:
            return f"{parent!r} errored last time it ran"
        if state.next_run is not None and state.next_run < now:
            return f"{parent!r} hasn't recently run (it was due {state.next_run:%Y-%m-%d %H:%M} UTC)"
    return None


def retry_delay(job: JobDefinition, error_count: int) -> float:
    """Seconds until a job that has now failed ``error_count`` times in a row is retried."""
    from crontabber.schedule import MAX_SECONDS

    base = job.settings.error_retry_time
    try:
        return min(base * job.settings.retry_backoff ** max(error_count - 1, 0), MAX_SECONDS)
    except OverflowError:  # a long run of failures with a backoff: as far as the calendar goes
        return MAX_SECONDS


def after_success(job: JobDefinition, state: JobState, started: dt.datetime,
                  last_success: dt.datetime | None) -> JobState:
    """The row after a successful run that started at ``started``."""
    return state.but(
        first_run=state.first_run or started, last_run=started,
        last_success=_later(state.last_success, last_success),
        next_run=job.schedule.next_after(started), error_count=0, last_error={},
        ongoing=None, skip_reason=None, depends_on=tuple(job.depends_on))


def after_failure(job: JobDefinition, state: JobState, started: dt.datetime,
                  last_success: dt.datetime | None, failure: Failure) -> JobState:
    """The row after a failed run: retry after the (backed-off) delay, or the next slot
    once ``max_retries`` retries have failed."""
    errors = state.error_count + 1
    limit = job.settings.max_retries
    if limit is not None and errors > limit:
        next_run = job.schedule.next_after(started)
    else:
        next_run = started + dt.timedelta(seconds=retry_delay(job, errors))
    return state.but(
        first_run=state.first_run or started, last_run=started,
        last_success=_later(state.last_success, last_success), next_run=next_run,
        error_count=errors, last_error=failure.as_last_error(), ongoing=None, skip_reason=None,
        depends_on=tuple(job.depends_on))


def after_interruption(state: JobState, started: dt.datetime, reason: str) -> JobState:
    """The row after a run that was stopped (SIGTERM, SIGINT, a lost lock) or whose runner
    died: due again at once, its error count and last error as they were."""
    return state.but(ongoing=None, next_run=started,
                     skip_reason=f"interrupted ({reason}); runs again at the next tick")


def is_on_airflow(job: JobDefinition, now: dt.datetime) -> bool:
    """True from the job's ``on_airflow_since`` instant on: the cron runner leaves it alone."""
    since = job.settings.on_airflow_since
    return since is not None and now >= since


def _later(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)
