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
