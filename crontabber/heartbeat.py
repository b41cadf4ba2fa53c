"""When a runner host counts as silent: "cron stopped calling crontabber" made visible.

Each tick writes its host's heartbeat (``state.heartbeat``). A host is silent once its
last tick is older than ``runner_silent_after``, by default three times the longest
gap seen between two of its ticks, and never less than 15 minutes (a host that has
ticked only once has no gap yet, so the floor applies).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from crontabber.state import RunnerBeat

FLOOR_SECONDS = 15 * 60
GAP_FACTOR = 3


@dataclass(frozen=True)
class RunnerHealth:
    """One host's heartbeat judged at an instant."""

    beat: RunnerBeat
    quiet_for: float  # seconds since its last tick started
    silent_after: float

    @property
    def silent(self) -> bool:
        return self.quiet_for > self.silent_after


def silent_after(beat: RunnerBeat, configured: float | None) -> float:
    """Seconds of quiet after which ``beat``'s host is silent (``configured`` wins when set)."""
    if configured is not None:
        return float(configured)
    return max(GAP_FACTOR * beat.longest_gap, FLOOR_SECONDS)


def judge(beats: Iterable[RunnerBeat], now: dt.datetime, configured: float | None) -> list[RunnerHealth]:
    """Every host's health at ``now``, by host name."""
    return [RunnerHealth(beat, max((now - beat.last_tick).total_seconds(), 0.0), silent_after(beat, configured))
            for beat in sorted(beats, key=lambda beat: beat.host)]
