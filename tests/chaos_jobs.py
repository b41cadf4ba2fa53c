"""The 40 jobs of the chaos test: Python (in the runner), Python with a timeout (in a forked
child, with a grandchild), backfill and dependent Python jobs; the shell jobs are declared in
the test's ini. Every job appends ``start``/``done`` events to ``CRONTABBER_TEST_CALLS`` and,
while it runs, holds a witness lock named after it (``CHAOS_WITNESS``/<app_name>): a second
copy running at the same time cannot take it and appends ``overlap`` instead.

The witness is a POSIX record lock (``lockf``): it belongs to the process that runs the job
(the runner for an in-process job, the forked child otherwise), dies with it, and is not
inherited by a fork; within one runner process a set does the same job.
"""

import contextlib
import fcntl
import os
import subprocess
import threading
import time

from crontabber.base import BaseCronApp
from crontabber.mixins import as_backfill_cron_app
from tests.runner_jobs import record

PYTHON, FORKED, BACKFILL = 10, 8, 4
_running: set[str] = set()
_running_lock = threading.Lock()


def duration(app_name: str, low: float, high: float) -> float:
    """A fixed pseudo-random duration per job (varied across jobs, stable across runs)."""
    spread = (sum(app_name.encode()) * 7919) % 1000 / 1000
    return low + (high - low) * spread


@contextlib.contextmanager
def witness(app_name: str):
    """Hold the job's witness lock while it runs; record an overlap if another copy holds it."""
    with _running_lock:
        overlap = app_name in _running
        _running.add(app_name)
    fd = os.open(os.path.join(os.environ["CHAOS_WITNESS"], app_name), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            overlap = True
        if overlap:
            record("overlap", app_name, str(os.getpid()))
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.lockf(fd, fcntl.LOCK_UN)
        os.close(fd)
        with _running_lock:
            _running.discard(app_name)


class _Sleeper(BaseCronApp):
    low, high = 0.1, 0.6

    def run(self):
        with witness(self.app_name):
            record("start", self.app_name)
            time.sleep(duration(self.app_name, self.low, self.high))
            record("done", self.app_name)


class _ForkedSleeper(_Sleeper):
    """Runs in a forked child (the ini gives these a timeout) and leaves a grandchild behind it,
    which only the runner (killing the job's process group) or its watcher ends."""

    low, high = 0.2, 0.8

    def run(self):
        subprocess.Popen(["sleep", "30"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        super().run()


class _Backfill(BaseCronApp):
    def run(self, date):
        day = date.isoformat()
        with witness(self.app_name):
            record("start", self.app_name, day)
            time.sleep(0.04)
            record("done", self.app_name, day)


def _make(name: str, base: type, app_name: str, depends_on: tuple[str, ...] = ()) -> type:
    job = type(name, (base,), {"app_name": app_name, "depends_on": depends_on, "__module__": __name__})
    globals()[name] = job
    return job


for _n in range(PYTHON):
    _make(f"Py{_n:02d}", _Sleeper, f"py-{_n:02d}")
for _n in range(FORKED):
    _make(f"Fk{_n:02d}", _ForkedSleeper, f"fk-{_n:02d}")
for _n in range(BACKFILL):
    as_backfill_cron_app(_make(f"Bf{_n}", _Backfill, f"bf-{_n}"))

# Dependent jobs: children of each kind of parent, and a chain.
DEPENDENTS = {"Dep0": ("sh-00",), "Dep1": ("py-00",), "Dep2": ("fk-00",), "Dep3": ("dep-0",),
              "Dep4": ("bf-0",), "Dep5": ("sh-01", "py-01")}
for _name, _parents in DEPENDENTS.items():
    _make(_name, _Sleeper, f"dep-{_name[-1]}", _parents)
