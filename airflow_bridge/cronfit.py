"""Whether Airflow's ``CronTriggerTimetable`` runs a schedule exactly when crontabber would.

Airflow 3.3's ``CronTriggerTimetable`` and cronsim (which crontabber follows) agree
on every instant except where a DST change skips or repeats a wall-clock time the
expression matches: there Airflow fires an hour off (design §4). So an expression
fits when it uses plain cron syntax and matches no minute that a transition of its
zone skips or repeats, in any year of a fixed window (fixed, so the export depends
on the config alone, never on the day it runs). This needs no Airflow.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from functools import lru_cache

import cronsim

UTC = dt.timezone.utc
YEARS = range(2024, 2051)
_NAMES = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
          "sun", "mon", "tue", "wed", "thu", "fri", "sat"}
_TOKEN = re.compile(r"[,/-]")


def plain_syntax(expression: str) -> bool:
    """True when every field uses digits, ``*``, ``,``, ``-``, ``/`` and month or day names only."""
    fields = expression.split()
    if len(fields) != 5:
        return False
    for value in fields:
        for token in _TOKEN.split(value.lower()):
            if not (token == "*" or token.isdigit() or token in _NAMES):
                return False
    return True


@lru_cache(maxsize=64)
def transitions(zone: str) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    """The wall-clock ranges ``[low, high)`` that the zone skips or repeats in ``YEARS`` (naive)."""
    tz = zoneinfo.ZoneInfo(zone)
    found = []
    day = dt.datetime(YEARS.start, 1, 1, tzinfo=UTC)
    end = dt.datetime(YEARS.stop, 1, 1, tzinfo=UTC)
    step = dt.timedelta(hours=6)
    while day < end:
        before, after = day.astimezone(tz).utcoffset(), (day + step).astimezone(tz).utcoffset()
        if before != after:
            low, high = day, day + step
            while high - low > dt.timedelta(minutes=1):  # bisect to the minute of the change
                middle = low + (high - low) / 2
                if middle.astimezone(tz).utcoffset() == before:
                    low = middle
                else:
                    high = middle
            instant = high.replace(second=0, microsecond=0)
            walls = sorted(((instant + before).replace(tzinfo=None), (instant + after).replace(tzinfo=None)))
            found.append((walls[0], walls[1]))
        day += step
    return tuple(found)


def cron_fits(expression: str, zone: str) -> bool:
    """Whether ``CronTriggerTimetable(expression, timezone=zone)`` yields crontabber's instants."""
    if not plain_syntax(expression):
        return False
    for low, high in transitions(zone):
        if next(cronsim.CronSim(expression, low - dt.timedelta(minutes=1))) < high:
            return False
    return True
