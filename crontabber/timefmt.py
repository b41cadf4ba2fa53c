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


def stamp(when: dt.datetime | None) -> str:
    """``'2026-11-28 07:00'`` in UTC (empty for None)."""
    return "" if when is None else when.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
