"""The run instants of a crontabber schedule, as a pure function of time (no Airflow here).

The cron runner computes ``next_run`` from the moment a job last ran; a scheduler
needs the fixed sequence of instants a job runs at when every run is on time.
This module gives that sequence for every schedule kind, with the same DST rules
as ``crontabber.schedule`` (cronsim for cron expressions, ``local_instant`` for a
time of day), so our timetable, the native sensors and the tests agree.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from functools import lru_cache

UTC = dt.timezone.utc
EPOCH = dt.datetime(2000, 1, 3, tzinfo=UTC)  # a Monday: the default anchor of whole-day counts
_ONE_MINUTE = dt.timedelta(minutes=1)


@lru_cache(maxsize=256)
def schedule_of(text: str, timezone: str):  # -> FrequencySchedule | CronSchedule
    """The crontabber schedule of a jobs-list schedule part, read in ``timezone``."""
    from crontabber.schedule import parse_schedule

    return parse_schedule(text, zoneinfo.ZoneInfo(timezone))


def plain(when: dt.datetime) -> dt.datetime:
    """``when`` as a stdlib UTC datetime (pendulum's, which Airflow passes, slow cronsim down badly)."""
    utc = when.astimezone(UTC)
    return dt.datetime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=UTC)


class Instants:
    """The on-time run instants of ``text`` in ``timezone``; whole-day counts start at ``anchor``."""

    def __init__(self, text: str, timezone: str, anchor: dt.datetime | None = None) -> None:
        self.schedule = schedule_of(text, timezone)
        self.tz = zoneinfo.ZoneInfo(timezone)
        self.anchor = (anchor or EPOCH).astimezone(UTC)

    # -- the sequence ------------------------------------------------------------------
    def first_after(self, when: dt.datetime) -> dt.datetime:
        """The first instant strictly after ``when``."""
        when = plain(when)
        schedule = self.schedule
        if hasattr(schedule, "expression"):
            return next(schedule.instants(when.astimezone(UTC)))
        if schedule.time is None:
            step = dt.timedelta(seconds=schedule.seconds)
            count = max((when - self.anchor) // step + 1, 0)
            return self.anchor + count * step
        if schedule.whole_days:
            return self._first_day_after(when)
        return self._replay_after(when)

    def first_at_or_after(self, when: dt.datetime) -> dt.datetime:
        """The first instant at or after ``when``."""
        return self.first_after(when - dt.timedelta(microseconds=1))

    def last_at_or_before(self, when: dt.datetime) -> dt.datetime | None:
        """The latest instant at or before ``when`` (None when there is none since the anchor)."""
        when = plain(when)
        schedule = self.schedule
        if hasattr(schedule, "expression"):
            import cronsim

            local = when.astimezone(self.tz).replace(second=0, microsecond=0) + dt.timedelta(seconds=1)
            try:
                candidate = next(cronsim.CronSim(schedule.expression, local, reverse=True)).astimezone(UTC)
            except StopIteration:
                return None
            start = candidate - dt.timedelta(hours=3)  # re-walk forward: forward order is canonical
        else:
            period = dt.timedelta(seconds=max(schedule.seconds, 86400)) * 2
            start = max(when - period, self.anchor - dt.timedelta(microseconds=1))
        best = None
        nxt = self.first_after(start)
        while nxt <= when:
            best = nxt
            nxt = self.first_after(nxt)
        return best

    def iterate(self, after: dt.datetime) -> Iterator[dt.datetime]:
        """Every instant strictly after ``after``, in order."""
        when = after
        while True:
            when = self.first_after(when)
            yield when

    # -- whole-day schedules with a time of day -------------------------------------------
    def _first_day_after(self, when: dt.datetime) -> dt.datetime:
        from crontabber.schedule import local_instant

        schedule = self.schedule
        days = schedule.seconds // 86400
        anchor_day = self.anchor.astimezone(self.tz).date()
        day = when.astimezone(self.tz).date()
        offset = (day - anchor_day).days % days
        if offset:
            day += dt.timedelta(days=days - offset)
        while True:
            instant = local_instant(day, *schedule.time, self.tz)
            if instant > when:
                return instant
            day += dt.timedelta(days=days)

    def _replay_after(self, when: dt.datetime) -> dt.datetime:
        """Other frequencies with a time of day: replay the runner's own steps from the anchor."""
        schedule = self.schedule
        instant = schedule._pin(self.anchor)
        while instant <= when:
            instant = schedule.next_after(instant)
        return instant
