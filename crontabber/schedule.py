"""When jobs run: frequencies, times of day and cron expressions, in a configured zone.

Schedules are pure: every method takes the instant it reasons about and returns
aware UTC datetimes. Cron arithmetic is cronsim's (Debian cron's DST rules); a
time of day follows the same rules, so both kinds agree on DST days:
- a local time skipped by spring-forward runs at the first valid instant after it;
- a local time repeated by fall-back runs once, at its first occurrence.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

UTC = dt.timezone.utc
DAY = 86400
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": DAY, "w": 7 * DAY}
MAX_SECONDS = 36600 * DAY  # 100 years: any longer and "now + it" leaves the calendar (year 9999)
_FREQUENCY = re.compile(r"^(\d+)([mhdw])$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
_TIME = re.compile(r"^(\d{1,2}):(\d{1,2})$")
_CRON_NAMES = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class ScheduleError(ValueError):
    """A frequency, time, cron expression or zone that cannot be used; the text says the fix."""


def parse_frequency(text: str) -> int:
    """``'5m'``, ``'2h'``, ``'1d'``, ``'1w'`` -> seconds. Zero and negative values are errors."""
    match = _FREQUENCY.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ScheduleError(
            f"bad frequency {text.strip()!r}: use a whole number >= 1 followed by "
            "m (minutes), h (hours), d (days) or w (weeks), e.g. 5m, 2h, 1d, 1w")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds > MAX_SECONDS:
        raise ScheduleError(f"bad frequency {text.strip()!r}: at most 100 years (36600d)")
    return seconds


def parse_duration(value: object) -> float:
    """Plain seconds or a number with ``s``, ``m``, ``h`` or ``d`` -> seconds (>= 0)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value).strip())
        if not match:
            raise ScheduleError(
                f"bad duration {value!r}: use seconds (300) or a number with s, m, h or d (5m)")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds < 0:
        raise ScheduleError(f"bad duration {value!r}: must not be negative")
    if not seconds <= MAX_SECONDS:  # also refuses nan and inf
        raise ScheduleError(f"bad duration {value!r}: at most 100 years (36600d)")
    return seconds


def parse_time(text: str) -> tuple[int, int]:
    """``'HH:MM'`` -> (hour, minute); ``24:00`` and ``7:60`` are errors."""
    match = _TIME.match(text.strip())
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ScheduleError(f"bad time of day {text.strip()!r}: use HH:MM from 00:00 to 23:59")
    return int(match.group(1)), int(match.group(2))


def parse_zone(name: str) -> zoneinfo.ZoneInfo:
    """An IANA zone name -> ZoneInfo, with an error that says what is expected."""
    try:
        return zoneinfo.ZoneInfo(name.strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ScheduleError(
            f"unknown time zone {name!r}: use an IANA name such as UTC, Europe/Berlin "
            "or America/New_York") from None


def looks_like_cron(text: str) -> bool:
    """True for ``@daily``-style names and anything with five space-separated fields."""
    text = text.strip()
    return text.startswith("@") or len(text.split()) == 5


def local_instant(day: dt.date, hour: int, minute: int, tz: dt.tzinfo) -> dt.datetime:
    """The UTC instant of wall time ``day hour:minute`` in ``tz``, by the DST rules above."""
    wall = dt.datetime(day.year, day.month, day.day, hour, minute)
    first = wall.replace(tzinfo=tz, fold=0)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall:
        return first.astimezone(UTC)  # exists (the first occurrence when repeated)
    # Skipped: walk forward from the earlier reading to the first minute past the gap.
    low = min(first.astimezone(UTC), wall.replace(tzinfo=tz, fold=1).astimezone(UTC))
    probe = low
    while probe.astimezone(tz).replace(tzinfo=None) < wall:
        probe += dt.timedelta(minutes=1)
    return probe


class Schedule(Protocol):
    """What the runner, ``list`` and the Airflow bridge need to know about a schedule."""

    text: str
    tz: dt.tzinfo

    def due_without_row(self, now: dt.datetime) -> bool:
        """Whether a job that has never run is due at ``now``."""

    def next_after(self, now: dt.datetime) -> dt.datetime:
        """``next_run`` after a success at ``now``."""

    def backfill_dates(self, last_success: dt.datetime, now: dt.datetime) -> Iterator[dt.datetime]:
        """Every missed instant after ``last_success`` that is not in the future."""

    @property
    def interval_seconds(self) -> float:
        """The (typical) gap between runs, for retry budgets and sensor timeouts."""


@dataclass(frozen=True)
class FrequencySchedule:
    """``|FREQ`` or ``|FREQ|HH:MM``: every FREQ, snapped to a time of day when one is set."""

    seconds: int
    time: tuple[int, int] | None
    tz: dt.tzinfo
    text: str

    def __post_init__(self) -> None:
        if self.time is not None and self.seconds < DAY:
            raise ScheduleError(
                f"schedule {self.text!r}: a time of day needs a frequency of at least 1d "
                "(drop the time or use |1d|HH:MM)")

    @property
    def interval_seconds(self) -> float:
        return float(self.seconds)

    @property
    def whole_days(self) -> bool:
        return self.seconds % DAY == 0

    def due_without_row(self, now: dt.datetime) -> bool:
        if self.time is None:
            return True
        local = now.astimezone(self.tz)
        return (local.hour, local.minute) >= self.time

    def _pin(self, when: dt.datetime) -> dt.datetime:
        assert self.time is not None
        return local_instant(when.astimezone(self.tz).date(), *self.time, self.tz)

    def _advance(self, when: dt.datetime) -> dt.datetime:
        """``when`` + one interval; with a time of day, in wall-clock days so DST cannot drift it."""
        if self.time is None:
            return when + dt.timedelta(seconds=self.seconds)
        wall = when.astimezone(self.tz).replace(tzinfo=None) + dt.timedelta(seconds=self.seconds)
        return local_instant(wall.date(), *self.time, self.tz)

    def next_after(self, now: dt.datetime) -> dt.datetime:
        nxt = self._advance(now)
        if self.time is not None and nxt <= now:  # a 25-hour day cannot make it due again
            nxt = local_instant(nxt.astimezone(self.tz).date() + dt.timedelta(days=1), *self.time, self.tz)
        return nxt

    def backfill_dates(self, last_success: dt.datetime, now: dt.datetime) -> Iterator[dt.datetime]:
        when = self._pin(last_success) if self.time is not None else last_success
        while True:
            nxt = self._advance(when)
            if nxt >= now:
                return
            when = nxt
            yield when

    def instants(self, start: dt.datetime) -> Iterator[dt.datetime]:
        """Run instants after ``start`` when every run succeeds on time: the first time of day
        after ``start`` (or ``start`` + FREQ without one), then one interval apart."""
        if self.time is None:
            when = start + dt.timedelta(seconds=self.seconds)
        else:
            when = self._pin(start)
            if when <= start:
                when = local_instant(start.astimezone(self.tz).date() + dt.timedelta(days=1),
                                     *self.time, self.tz)
        while True:
            yield when
            when = self._advance(when)


@dataclass(frozen=True)
class CronSchedule:
    """A 5-field cron expression or ``@name``, read in the configured zone (cronsim)."""

    expression: str
    tz: dt.tzinfo
    text: str

    def __post_init__(self) -> None:
        import cronsim  # only cron expressions need it: a tick of frequency jobs skips its import

        try:
            cronsim.CronSim(self.expression, dt.datetime(2000, 1, 1, tzinfo=self.tz))
        except cronsim.CronSimError as exc:
            raise ScheduleError(
                f"bad cron expression {self.text!r}: {exc} (five fields: minute hour "
                "day-of-month month day-of-week, or @hourly/@daily/@weekly/@monthly)") from None

    @classmethod
    def parse(cls, text: str, tz: dt.tzinfo) -> CronSchedule:
        text = " ".join(text.split())
        expression = _CRON_NAMES.get(text.lower(), text)
        if expression.startswith("@"):
            raise ScheduleError(
                f"unknown cron name {text!r}: use @hourly, @daily, @weekly, @monthly or @yearly")
        return cls(expression, tz, text)

    def _iter(self, after: dt.datetime) -> Iterator[dt.datetime]:
        import cronsim

        for local in cronsim.CronSim(self.expression, after.astimezone(self.tz)):
            yield local.astimezone(UTC)

    def matches(self, now: dt.datetime) -> bool:
        """Whether the minute containing ``now`` is one of the expression's instants."""
        minute = now.replace(second=0, microsecond=0)
        return next(self._iter(minute - dt.timedelta(seconds=1))) == minute

    def due_without_row(self, now: dt.datetime) -> bool:
        return self.matches(now)

    def next_after(self, now: dt.datetime) -> dt.datetime:
        return next(self._iter(now))

    def backfill_dates(self, last_success: dt.datetime, now: dt.datetime) -> Iterator[dt.datetime]:
        for when in self._iter(last_success):
            if when > now:
                return
            yield when

    def instants(self, start: dt.datetime) -> Iterator[dt.datetime]:
        return self._iter(start)

    @property
    def interval_seconds(self) -> float:
        it = self._iter(dt.datetime(2001, 1, 1, tzinfo=UTC))
        first = next(it)
        return (next(it) - first).total_seconds()


def parse_schedule(text: str, tz: dt.tzinfo) -> FrequencySchedule | CronSchedule:
    """The part of a jobs-list entry after the first ``|`` -> a schedule (schedules are values,
    so jobs that share a schedule text share one: thousands of ``|1d`` jobs parse it once)."""
    return _parse_schedule(text.strip(), tz)


@functools.lru_cache(maxsize=4096)
def _parse_schedule(text: str, tz: dt.tzinfo) -> FrequencySchedule | CronSchedule:
    if not text:
        raise ScheduleError("missing schedule: add |FREQ, |FREQ|HH:MM, |HH:MM or |<cron expression>")
    parts = [part.strip() for part in text.split("|")]
    if len(parts) > 2:
        raise ScheduleError(f"schedule {text!r} has too many '|' parts: use FREQ|HH:MM at most")
    if len(parts) == 1:
        (only,) = parts
        if looks_like_cron(only):
            return CronSchedule.parse(only, tz)
        if ":" in only:
            return FrequencySchedule(DAY, parse_time(only), tz, text)
        return FrequencySchedule(parse_frequency(only), None, tz, text)
    frequency, time = parts
    return FrequencySchedule(parse_frequency(frequency), parse_time(time), tz, "|".join(parts))
