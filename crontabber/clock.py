"""The one source of "now": passed into the runner and the ledger so tests can move time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Protocol

UTC = dt.timezone.utc


class Clock(Protocol):
    """Anything with a ``now()`` returning an aware UTC datetime."""

    def now(self) -> dt.datetime: ...


def utc_now() -> dt.datetime:
    """The wall clock as an aware UTC datetime."""
    return dt.datetime.now(UTC)


class SystemClock:
    """The real wall clock, in UTC."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to (the test kit hands it to job tests)."""

    def __init__(self, start: dt.datetime | str | None = None) -> None:
        self._now = _aware(start) if start is not None else dt.datetime.now(UTC).replace(microsecond=0)

    def now(self) -> dt.datetime:
        return self._now

    def set(self, when: dt.datetime | str) -> None:
        """Jump to ``when`` (naive values and strings are read as UTC)."""
        self._now = _aware(when)

    def advance(self, seconds: float = 0, **delta: float) -> dt.datetime:
        """Move forward by ``seconds`` plus any ``timedelta`` keywords; return the new now."""
        self._now += dt.timedelta(seconds=seconds, **delta)
        return self._now


class CallClock:
    """A clock that asks ``now`` at every reading: a 0.18.1 face passes a function that calls its
    own ``utc_now`` by name, so a test that patches that name moves the engine's time."""

    def __init__(self, now: Callable[[], dt.datetime]) -> None:
        self._now = now

    def now(self) -> dt.datetime:
        return _aware(self._now())


def _aware(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
