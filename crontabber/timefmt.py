"""Human-readable instants and durations for ``list``, Nagios and messages."""

from __future__ import annotations

import datetime as dt


def duration(seconds: float) -> str:
    """``9000`` -> ``'2h 30m'``: the two largest units, the way an operator says it."""
    seconds = int(abs(seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
        if len(parts) == 2:
            break
    return " ".join(part for part in parts if not part.startswith("0") or len(parts) == 1)


def relative(when: dt.datetime | None, now: dt.datetime) -> str:
    """``'in 3h'`` or ``'5m ago'`` (empty for None)."""
    if when is None:
        return ""
    delta = (when - now).total_seconds()
    if abs(delta) < 1:
        return "now"
    return f"in {duration(delta)}" if delta > 0 else f"{duration(delta)} ago"


def stamp(when: dt.datetime | None, zone: dt.tzinfo | None = None) -> str:
    """``'2026-11-28 07:00'`` in UTC (empty for None); with ``zone``, its wall time and offset:
    ``'2026-11-28 08:00 +01:00'``, so a reader never has to guess which zone a time is in."""
    if when is None:
        return ""
    if zone is None:
        return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    local = when.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M ") + offset(local)


def stamp_seconds(when: dt.datetime, zone: dt.tzinfo) -> str:
    """``'2026-11-28 08:00:05 +01:00'``: an instant to the second in ``zone``, with its offset."""
    local = when.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M:%S ") + offset(local)


def offset(local: dt.datetime) -> str:
    """``'+01:00'`` for an aware datetime (``'+00:00'`` for UTC)."""
    text = local.strftime("%z") or "+0000"
    return f"{text[:3]}:{text[3:5]}"


_SINCE_UNITS = (("year", 365 * 86400), ("month", 30 * 86400), ("week", 7 * 86400), ("day", 86400),
                ("hour", 3600), ("minute", 60), ("second", 1))


def timesince(then: dt.date, now: dt.date) -> str:
    """0.18.1's wording of the time from ``then`` to ``now``: ``'2 days, 1 hour'``, the largest
    unit and the next one down when it is not zero; ``'0 seconds'`` when ``then`` is not earlier."""
    then, now = _as_datetime(then), _as_datetime(now)
    delta = now - then
    left = delta.days * 86400 + delta.seconds  # microseconds ignored
    if left <= 0:
        return "0 seconds"
    index = next(i for i, (_, size) in enumerate(_SINCE_UNITS) if left >= size)
    name, size = _SINCE_UNITS[index]
    count = left // size
    text = f"{count} {name}{'' if count == 1 else 's'}"
    if index + 1 < len(_SINCE_UNITS):
        name2, size2 = _SINCE_UNITS[index + 1]
        count2 = (left - count * size) // size2
        if count2:
            text += f", {count2} {name2}{'' if count2 == 1 else 's'}"
    return text


def _as_datetime(value: dt.date) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime(value.year, value.month, value.day)
