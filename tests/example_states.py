"""The example jobs (plus one with a hostile name) brought into every state ``list`` knows.

hello: ok; after-hello: waiting; always-fails and the hostile job: failing; daily-report:
running; weekday-digest: never run; nightly-cleanup: on Airflow. Times are read in
Europe/Berlin. Runs happen on a frozen clock, so the views can be checked exactly.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from crontabber.base import BaseCronApp
from crontabber.clock import FrozenClock
from crontabber.runner import Runner
from crontabber.testing import Harness

HOSTILE = '<script>alert("x")</script> & \'quoted\' \\ "name" ]; x -> y {}\u00e9'
START = dt.datetime(2026, 1, 5, 11, 30, tzinfo=dt.timezone.utc)  # a Monday
NOW = START + dt.timedelta(minutes=40)
CUTOVER = START - dt.timedelta(days=1)
EXPECTED = {
    "hello": "ok", "after-hello": "waiting", "always-fails": "failing", HOSTILE: "failing",
    "daily-report": "running", "weekday-digest": "never run", "nightly-cleanup": "on Airflow",
}
E = "crontabber.examples.jobs."


class HostileJob(BaseCronApp):
    """A job whose name, error and output are HTML, DOT, Mermaid and Prometheus syntax."""

    app_name = HOSTILE
    depends_on = ("hello",)

    def run(self):
        self.crontabber_output = '<img src=x onerror=alert(1)>\n</pre><b>"output"</b>'
        raise ValueError('<b onmouseover="alert(2)">bold</b> | pipe\nsecond line')


def build(folder: Path, database_url: str | None = None, host: str = "cron-host-1") -> Harness:
    """A harness over ``folder`` whose ledger holds the example jobs in every state at ``NOW``."""
    harness = Harness(folder, FrozenClock(START), database_url=database_url)
    configure(harness)
    runner = Runner(harness.settings, harness.ledger, harness.clock, host=host)
    for _ in range(4):  # 11:30 .. 11:45: hello runs each time, always-fails retries with backoff
        runner.tick()
        harness.clock.advance(minutes=5)
    harness.clock.set(NOW)
    runner.run_job("after-hello")  # hello was due at 11:50 and has not run: after-hello waits
    state = harness.state("daily-report")
    harness.ledger.save(state.but(ongoing=NOW - dt.timedelta(minutes=3)))  # as if a runner holds it
    return harness


def configure(harness: Harness) -> None:
    harness.configure([f"{E}HelloJob|5m", f"{E}AfterHelloJob|5m", f"{E}FailingJob|1h", f"{E}DailyReportJob|1d",
                       f"{E}NightlyCleanupJob|1d|03:00", f"{E}WeekdayDigestJob|30 8 * * mon-fri",
                       "tests.example_states.HostileJob|1h"],
                      timezone="Europe/Berlin", error_retry_time="5m",
                      sections={"class-FailingJob": {"retry_backoff": 2},
                                "class-NightlyCleanupJob": {"on_airflow_since": CUTOVER.isoformat()}})
