"""Progress on long work (a backfill over many dates, an export of many jobs).

At a terminal: one bar on stderr, redrawn in place. Elsewhere (cron, a pipe, a log
file): an INFO log line each time another 10% is done, so nothing reaches cron's
mail unless the logging level asks for it. One bar at a time: parallel work that
starts a second one reports through the log instead.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

log = logging.getLogger("crontabber")
T = TypeVar("T")
WIDTH = 24
_bar_in_use = threading.Lock()


class Progress:
    """``total`` steps of ``what`` (e.g. "backfill daily-report"), counted in ``unit``."""

    def __init__(self, what: str, total: int, unit: str = "steps", stream: TextIO | None = None,
                 logger: logging.Logger | None = None) -> None:
        self.what, self.total, self.unit = what, max(total, 0), unit
        self.stream = stream if stream is not None else sys.stderr
        self.log = logger or log
        self.done = 0
        self._tenths = 0
        self._started = time.monotonic()
        self._bar = _is_terminal(self.stream) and _bar_in_use.acquire(blocking=False)
        if self._bar:
            self._draw()

    def step(self, count: int = 1) -> None:
        """Count ``count`` more steps as done."""
        self.done = min(self.done + count, self.total) if self.total else self.done + count
        if self._bar:
            self._draw()
            return
        tenths = self.done * 10 // self.total if self.total else 0
        if tenths > self._tenths:
            self._tenths = tenths
            self.log.info("%s: %d%% (%d/%d %s)%s", self.what, tenths * 10, self.done, self.total, self.unit,
                          self._eta(", about %s left"))

    def close(self) -> None:
        """End the bar's line (and free the terminal for the next bar)."""
        if self._bar:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
            self._bar = False
            _bar_in_use.release()

    def _draw(self) -> None:
        share = self.done / self.total if self.total else 1.0
        filled = int(share * WIDTH)
        bar = "#" * filled + "." * (WIDTH - filled)
        self.stream.write(f"\r{self.what} [{bar}] {share:4.0%} {self.done}/{self.total} {self.unit}"
                          f"{self._eta(', %s left')}\x1b[K")
        self.stream.flush()

    def _eta(self, pattern: str) -> str:
        if not self.done or self.done >= self.total:
            return ""
        left = (time.monotonic() - self._started) / self.done * (self.total - self.done)
        from crontabber.timefmt import duration

        return pattern % duration(left)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iterate(items: Iterable[T], what: str, unit: str = "steps", stream: TextIO | None = None) -> Iterator[T]:
    """Yield ``items`` while showing progress over them."""
    items = list(items)
    with Progress(what, len(items), unit, stream) as progress:
        for item in items:
            yield item
            progress.step()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
