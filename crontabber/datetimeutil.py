"""Face of crontabber 0.18.1's ``crontabber.datetimeutil``: ``UTC``, ``utc_now``, ``timesince``.

Differences: none in behaviour. ``timesince`` is the engine's (``crontabber.timefmt``);
``UTC`` is kept as 0.18.1's tzinfo class (its ``dst()`` is zero, where the standard
library's ``datetime.timezone.utc`` returns None).
"""

from __future__ import annotations

import datetime

from crontabber.timefmt import timesince

ZERO = datetime.timedelta(0)


class UTC(datetime.tzinfo):
    """The UTC zone as 0.18.1 defined it (an instance per use: ``datetime.now(UTC())``)."""

    def __repr__(self) -> str:
        return "<UTC>"

    def utcoffset(self, dt: datetime.datetime | None) -> datetime.timedelta:
        return ZERO

    def tzname(self, dt: datetime.datetime | None) -> str:
        return "UTC"

    def dst(self, dt: datetime.datetime | None) -> datetime.timedelta:
        return ZERO


def utc_now() -> datetime.datetime:
    """Now, as an aware datetime in UTC."""
    return datetime.datetime.now(UTC())


__all__ = ["UTC", "ZERO", "timesince", "utc_now"]
