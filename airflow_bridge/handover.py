"""Who runs a bridge job's DAG run, and whether the ledger already has it (design §8). No Airflow.

Bridge DAGs are deployed unpaused and decide at run time, from the configuration
and the ledger, so a cutover or a rollback is an edit of ``on_airflow_since`` in
crontabber.ini, never a re-export or an unpause:

- cron's runs: while ``on_airflow_since`` is unset or not before the end of the
  run's interval, the run ends at once as skipped ("cron runs this job until ...");
- the ledger decides: a run whose interval (or backfill date) the ledger already
  has ends without running the job and says so; a scheduled run waits until the
  ledger's ``next_run`` (and ``on_airflow_since``) when that falls inside its
  interval, so a floating ``|5m`` job keeps crontabber's spacing (the last run
  plus the frequency) on Airflow's grid, and the first Airflow run is the one at
  the ledger's ``next_run`` at the cutover;
- ``params={"force": true}`` (optionally ``"date": "YYYY-MM-DD"``) runs it anyway.

The sensors, the trigger and the job operator all ask here, so they cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from crontabber.state import JobState

UTC = dt.timezone.utc
RUN, WAIT, SKIP = "run", "wait", "skip"


@dataclass(frozen=True)
class Run:
    """What the bridge knows about one DAG run."""

    instant: dt.datetime  # the logical date, else run_after
    manual: bool = False  # triggered by a person (or the REST API), not by the schedule
    force: bool = False  # params.force
    date: dt.datetime | None = None  # params.date, as the schedule's instant on that day


@dataclass(frozen=True)
class Verdict:
    """RUN now, WAIT (look again at ``until`` at the latest), or SKIP; ``message`` says why."""

    action: str
    message: str
    until: dt.datetime | None = None


def at(when: dt.datetime) -> str:
    """An instant as messages print it: ``2026-11-30 10:00:05 UTC``."""
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def floating(job: Any) -> bool:
    """A plain ``|FREQ`` schedule: its instants follow the last run, not the clock."""
    return not hasattr(job.schedule, "expression") and job.schedule.time is None


def interval_end(job: Any, instant: dt.datetime) -> dt.datetime:
    """Where the interval that starts at ``instant`` ends: the schedule's next instant."""
    return job.schedule.next_after(instant)


def cron_message(job: Any, run: Run, now: dt.datetime) -> str | None:
    """"cron runs this job until ..." when the run belongs to the cron runner, else None."""
    if run.force:
        return None
    since = job.settings.on_airflow_since
    if since is None:
        return f"cron runs this job: [{job.section}] has no on_airflow_since"
    if (since > now) if run.manual else (since >= interval_end(job, run.instant)):
        return f"cron runs this job until {at(since)} (on_airflow_since)"
    return None


def backfill_date(job: Any, run: Run, now: dt.datetime) -> dt.datetime | None:
    """The date a backfill run is for: ``params.date``; a scheduled run's instant; for a manual
    run, the schedule's latest instant at or before its logical date (never a date off the schedule).
    None: a floating backfill job, whose dates come from the ledger as under cron."""
    if not job.is_backfill:
        return None
    if run.date is not None:
        return run.date
    if floating(job):
        return run.instant if run.force else None
    if run.manual:
        return latest_instant(job, run.instant) or run.instant
    return run.instant


def dates_to_run(job: Any, state: JobState | None, run: Run, date: dt.datetime) -> list[dt.datetime]:
    """A backfill run's dates: its own, after every date the ledger misses before it (as a cron
    tick runs every missed date), unless a person named the date or forced it."""
    if run.force or run.date is not None or state is None or state.last_success is None:
        return [date]
    missed = [when for when in job.schedule.backfill_dates(state.last_success, date + dt.timedelta(microseconds=1))
              if when < date]
    return [*missed, date]


def gate(job: Any, state: JobState | None, run: Run, now: dt.datetime) -> Verdict:
    """The first step of every bridge DAG run: skip it, wait, or let it go on to the job."""
    if run.force:
        return Verdict(RUN, "forced by params.force: running it now")
    cron = cron_message(job, run, now)
    if cron is not None:
        return Verdict(SKIP, cron)
    since = job.settings.on_airflow_since
    date = backfill_date(job, run, now)
    if date is not None:
        if state is not None and state.last_success is not None and date <= state.last_success:
            return Verdict(SKIP, f"the ledger already has {at(date)} (last success {at(state.last_success)}); "
                                 'trigger with params {"force": true, "date": "YYYY-MM-DD"} to run a date again')
        if now < since:
            return Verdict(WAIT, f"waiting for on_airflow_since {at(since)}", since)
        return Verdict(RUN, f"running it for {at(date)}")
    next_run = state.next_run if state is not None else None
    if run.manual:
        if next_run is None or next_run <= now:
            return Verdict(RUN, "due now")
        return Verdict(SKIP, f"nothing to do: the ledger says it is next due {at(next_run)}"
                             f"{_last(state)}; trigger with params {{\"force\": true}} to run it now")
    end = interval_end(job, run.instant)
    if next_run is not None and next_run >= end:
        return Verdict(SKIP, f"the ledger already has this interval ({at(run.instant)} to {at(end)}): "
                             f"next due {at(next_run)}{_last(state)}")
    target = max(since, next_run) if next_run is not None else since
    if now < target:
        why = "the ledger's next run" if next_run is not None and next_run >= since else "on_airflow_since"
        return Verdict(WAIT, f"waiting until {at(target)} ({why})", target)
    return Verdict(RUN, "due now")


def already_done(job: Any, state: JobState | None, run: Run, now: dt.datetime,
                 date: dt.datetime | None = None) -> str | None:
    """Asked again under the job's lock, just before it runs (for ``date``, a backfill job): why not
    to run after all (someone ran it since this run's interval began), or None."""
    if run.force or state is None:
        return None
    date = date or backfill_date(job, run, now)
    if date is not None:
        if state.last_success is not None and date <= state.last_success:
            return f"the ledger already has {at(date)} (last success {at(state.last_success)})"
        return None
    if state.last_run is not None and state.last_run >= run.instant and not state.last_error:
        return f"the ledger already has a run at {at(state.last_run)} for this interval"
    if run.manual and state.next_run is not None and state.next_run > now:
        return f"nothing to do: the ledger says it is next due {at(state.next_run)}"
    return None


def latest_instant(job: Any, now: dt.datetime) -> dt.datetime | None:
    """The schedule's latest instant at or before ``now`` (cron and time-of-day schedules)."""
    from airflow_bridge.instants import Instants

    zone = getattr(job.schedule.tz, "key", None) or "UTC"
    return Instants(job.schedule.text, zone, job.settings.on_airflow_since).last_at_or_before(now)


def date_param(job: Any, text: str) -> dt.datetime:
    """``params.date`` (``YYYY-MM-DD``) -> the job's instant on that day in its zone (the day's
    time of day, the first cron instant that day, or local midnight for a floating job);
    ValueError with a one-line reason."""
    if not job.is_backfill:
        raise ValueError(f"params.date is for backfill jobs; {job.app_name!r} is not one (leave it empty)")
    try:
        day = dt.date.fromisoformat(str(text).strip()[:10])
    except ValueError:
        raise ValueError(f"params.date {text!r}: use YYYY-MM-DD") from None
    schedule = job.schedule
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=schedule.tz).astimezone(UTC)
    if hasattr(schedule, "expression"):
        return schedule.next_after(midnight - dt.timedelta(microseconds=1))
    if schedule.time is None:
        return midnight
    from crontabber.schedule import local_instant

    return local_instant(day, *schedule.time, schedule.tz)


def _last(state: JobState | None) -> str:
    if state is None or state.last_run is None:
        return ""
    how = "failed" if state.last_error else "succeeded"
    return f"; last run {at(state.last_run)} {how}"
