"""The test kit for job authors: a pytest plugin (loaded automatically once crontabber is installed).

Fixtures:
- ``crontabber_clock``: a ``FrozenClock`` at 2026-01-05 12:00 UTC (a Monday) that only moves
  when told to (``clock.advance(hours=1)``, ``clock.set("2026-03-29T01:30")``);
- ``crontabber_harness``: a temporary ini file and SQLite ledger driven by that clock;
  ``harness.configure(jobs=...)``, ``harness.tick()``, ``harness.run_job(...)``,
  ``harness.state(name)``, ``harness.logs(name)``;
- ``run_job``: ``run_job(MyJob, schedule="1d", config={...})`` configures one job class,
  runs it once and returns its ``JobResult`` (the harness is ``run_job.harness``).

Importing this module also makes configman importable (it is the plugin's first job:
Socorro-style job modules import configman before anything from crontabber).
"""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from crontabber import _compat  # noqa: F401  (before any job module imports configman)
from crontabber.clock import FrozenClock
from crontabber.config.settings import Settings, load_settings
from crontabber.outcomes import Outcome
from crontabber.state import JobState, Ledger, LogEntry, open_ledger

DEFAULT_START = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.timezone.utc)


class Harness:
    """A crontabber installation in a folder: ini, ledger and a clock that tests control."""

    def __init__(self, folder: Path, clock: FrozenClock, database_url: str | None = None) -> None:
        self.folder = folder
        self.clock = clock
        self.database_url = database_url or f"sqlite:///{folder / 'ledger.sqlite'}"
        self.ini_path = folder / "crontabber.ini"
        self.settings: Settings | None = None
        self._ledger: Ledger | None = None

    def configure(self, jobs: str | list[str], extra: str = "", sections: Mapping[str, Mapping[str, Any]] = (),
                  environ: Mapping[str, str] | None = None, overrides: Mapping[str, str] | None = None,
                  **options: Any) -> Settings:
        """Write an ini with ``jobs``, ``[crontabber]`` ``options`` and per-job ``sections``; load it."""
        if isinstance(jobs, (list, tuple)):
            jobs = "\n".join(jobs)
        lines = ["[crontabber]", f"database_url = {self.database_url}", "jobs = '''"]
        lines += [f"    {line}" for line in textwrap.dedent(jobs).strip().splitlines()]
        lines.append("'''")
        lines += [f"{key} = {value}" for key, value in options.items()]
        for section, values in dict(sections).items():
            lines.append(f"    [[{section}]]")
            lines += [f"    {key} = {value}" for key, value in values.items()]
        self.ini_path.write_text("\n".join(lines) + "\n" + textwrap.dedent(extra))
        self.settings = load_settings(self.ini_path, overrides or {}, environ if environ is not None else {})
        return self.settings

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = open_ledger(self.database_url)
        return self._ledger

    def runner(self, max_workers: int | None = None) -> Any:
        from crontabber.runner import Runner

        assert self.settings is not None, "call harness.configure(...) first"
        return Runner(self.settings, self.ledger, self.clock, max_workers=max_workers)

    def tick(self, max_workers: int | None = None) -> dict[str, Any]:
        """One tick; the results keyed by app name."""
        return {result.app_name: result for result in self.runner(max_workers).tick()}

    def run_job(self, name: str, force: bool = False) -> Any:
        return self.runner().run_job(name, force=force)

    def run_date(self, name: str, when: dt.datetime) -> Any:
        return self.runner().run_date(name, when)

    def state(self, name: str) -> JobState | None:
        return self.ledger.load([name]).get(name)

    def logs(self, name: str, limit: int = 100) -> list[LogEntry]:
        """The job's log rows, oldest first."""
        return list(reversed(self.ledger.logs(name, limit)))

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None


@pytest.fixture
def crontabber_clock() -> FrozenClock:
    """A clock frozen at 2026-01-05 12:00 UTC."""
    return FrozenClock(DEFAULT_START)


@pytest.fixture
def crontabber_harness(tmp_path: Path, crontabber_clock: FrozenClock) -> Any:
    """A temporary crontabber installation (ini + SQLite ledger) on the frozen clock."""
    harness = Harness(tmp_path, crontabber_clock)
    yield harness
    harness.close()


@pytest.fixture
def run_job(crontabber_harness: Harness) -> Any:
    """``run_job(JobClass, schedule="1d", config={...}, force=True)`` -> JobResult."""

    def run(job_class: type, schedule: str = "1d", config: Mapping[str, Any] | None = None,
            force: bool = True) -> Any:
        path = f"{job_class.__module__}.{job_class.__qualname__}"
        crontabber_harness.configure(f"{path}|{schedule}",
                                     sections={f"class-{job_class.__name__}": dict(config or {})})
        return crontabber_harness.run_job(job_class.app_name, force=force)

    run.harness = crontabber_harness
    return run


__all__ = ["Harness", "Outcome", "DEFAULT_START", "FrozenClock"]
