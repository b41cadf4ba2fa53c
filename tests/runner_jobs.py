"""Jobs for the many-runner and fault tests: each appends what it did to CRONTABBER_TEST_CALLS.

Lines are JSON ``[event, app_name, detail, pid, time]`` written with one ``O_APPEND``
write each, so several runner processes can share the file. ``Count00``..``Count39``
are 40 independent-ish jobs (every job whose number is not a multiple of 3 depends on
the one before it); ``Blocker`` and ``SlowBackfill`` wait for a release file so a test
can kill their runner while they run.
"""

import json
import os
import time
from pathlib import Path

from crontabber.base import BaseCronApp
from crontabber.mixins import as_backfill_cron_app

COUNT = 40


def record(event: str, app_name: str, detail: str = "") -> None:
    """Append one event line to the calls file (atomic for lines this short)."""
    line = json.dumps([event, app_name, detail, os.getpid(), time.time()]) + "\n"
    fd = os.open(os.environ["CRONTABBER_TEST_CALLS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_calls(path: Path) -> list[list]:
    """Every event recorded so far."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for_release(name: str, limit: float = 60.0) -> None:
    """Block until the file named by CRONTABBER_TEST_RELEASE exists (or ``limit`` passes)."""
    release = Path(os.environ.get("CRONTABBER_TEST_RELEASE", "/nonexistent"))
    deadline = time.monotonic() + limit
    while not release.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name}: nobody released me")
        time.sleep(0.02)


def parent_of(number: int) -> str | None:
    """``count-NN``'s parent: the previous job unless NN is a multiple of 3 (chains of 3)."""
    return None if number % 3 == 0 else f"count-{number - 1:02d}"


def _counting_job(number: int) -> type:
    def run(self):
        record("start", self.app_name)
        time.sleep(0.01)
        record("done", self.app_name)

    parent = parent_of(number)
    attrs = {"app_name": f"count-{number:02d}", "depends_on": (parent,) if parent else (),
             "run": run, "__module__": __name__}
    return type(f"Count{number:02d}", (BaseCronApp,), attrs)


for _number in range(COUNT):
    _job = _counting_job(_number)
    globals()[_job.__name__] = _job


def counting_jobs_list(frequency: str = "1d") -> list[str]:
    """The jobs-list lines of the 40 counting jobs."""
    return [f"{__name__}.Count{number:02d}|{frequency}" for number in range(COUNT)]


class Blocker(BaseCronApp):
    """Records ``start``, waits for the release file, records ``done``."""

    app_name = "blocker"

    def run(self):
        record("start", self.app_name)
        wait_for_release(self.app_name)
        record("done", self.app_name)


class Quick(BaseCronApp):
    """Runs before ``blocker`` (alphabetical order), so its result is recorded first."""

    app_name = "a-quick"

    def run(self):
        record("done", self.app_name)


class After(BaseCronApp):
    """Runs after ``blocker`` in a tick."""

    app_name = "z-after"

    def run(self):
        record("done", self.app_name)


@as_backfill_cron_app
class SlowBackfill(BaseCronApp):
    """Records ``start``/``done`` per date; from the third date on, waits for the release file."""

    app_name = "slow-backfill"

    def run(self, date):
        day = date.date().isoformat()
        record("start", self.app_name, day)
        started = [c for c in read_calls(Path(os.environ["CRONTABBER_TEST_CALLS"]))
                   if c[0] == "start" and c[1] == self.app_name]
        if len(started) >= 3:
            wait_for_release(self.app_name)
        record("done", self.app_name, day)
