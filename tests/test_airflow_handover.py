"""Who runs a bridge job's run, and the ledger deciding, on a controlled clock (no Airflow needed).

The simulation drives the real runner and ledger from both sides: a cron runner that
ticks every few seconds, and Airflow's runs (a grid of instants, each run's first step
polled as the sensor pokes, then the job under its lock), through a cutover and a
rollback that are edits of ``on_airflow_since`` only.
"""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_bridge.handover import RUN, SKIP, WAIT, Run, already_done, date_param, gate
from crontabber.base import BaseCronApp
from crontabber.mixins import as_backfill_cron_app
from crontabber.state import JobState

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
RUNS: list[tuple[str, dt.datetime, str]] = []
SIDE = {"now": "cron"}


class SimJob(BaseCronApp):
    app_name = "sim"

    def run(self):
        RUNS.append(("sim", self.crontabber_now, SIDE["now"]))


@as_backfill_cron_app
class SimBackfill(BaseCronApp):
    app_name = "sim-backfill"

    def run(self, date):
        RUNS.append(("sim-backfill", date, SIDE["now"]))


@pytest.fixture(autouse=True)
def _clear():
    RUNS.clear()
    yield


def configure(harness, schedule: str, since: dt.datetime | None, job: str = "SimJob"):
    section = {"on_airflow_since": since.isoformat()} if since else {}
    return harness.configure(f"tests.test_airflow_handover.{job}|{schedule}", sections={f"class-{job}": section},
                             timezone="Europe/Berlin")


def test_cron_runs_it_until_on_airflow_since(harness):
    settings = configure(harness, "5m", None)
    job = settings.job("sim")
    verdict = gate(job, None, Run(T0), T0)
    assert verdict.action == SKIP and verdict.message == "cron runs this job: [class-SimJob] has no on_airflow_since"
    settings = configure(harness, "5m", T0 + dt.timedelta(minutes=7))
    job = settings.job("sim")
    verdict = gate(job, None, Run(T0), T0)  # the interval 12:00-12:05 ends before the cutover
    assert verdict.action == SKIP
    assert verdict.message == "cron runs this job until 2026-01-05 12:07:00 UTC (on_airflow_since)"
    assert gate(job, None, Run(T0, manual=True), T0).action == SKIP
    assert gate(job, None, Run(T0, manual=True, force=True), T0).action == RUN  # a person insists
    waiting = gate(job, None, Run(T0 + dt.timedelta(minutes=5)), T0 + dt.timedelta(minutes=5))
    assert waiting.action == WAIT and waiting.until == T0 + dt.timedelta(minutes=7)


def test_the_ledger_decides_a_floating_run(harness):
    job = configure(harness, "5m", T0).job("sim")
    done = JobState("sim", last_run=T0 + dt.timedelta(minutes=1), next_run=T0 + dt.timedelta(minutes=6))
    instant = T0 + dt.timedelta(seconds=20)  # Airflow's grid, 20 s off the ledger's
    verdict = gate(job, done, Run(instant), instant)
    assert verdict.action == SKIP and "the ledger already has this interval" in verdict.message
    due_later = done.but(next_run=T0 + dt.timedelta(minutes=4))
    verdict = gate(job, due_later, Run(instant), instant)
    assert verdict.action == WAIT and verdict.until == T0 + dt.timedelta(minutes=4)
    assert gate(job, due_later, Run(instant), T0 + dt.timedelta(minutes=4)).action == RUN
    manual = gate(job, due_later, Run(instant, manual=True), instant)
    assert manual.action == SKIP and manual.message.startswith("nothing to do: the ledger says it is next due")
    assert '{"force": true}' in manual.message
    ran_since = due_later.but(last_run=instant + dt.timedelta(seconds=1))
    assert already_done(job, ran_since, Run(instant), instant) is not None
    failed = ran_since.but(last_error={"type": "x"})  # its own failed attempt: a retry must run
    assert already_done(job, failed, Run(instant), instant) is None


def test_the_ledger_decides_a_backfill_date(harness):
    settings = configure(harness, "1d|03:00", T0 - dt.timedelta(days=10), job="SimBackfill")
    job = settings.job("sim-backfill")
    day = dt.datetime(2026, 1, 4, 2, 0, tzinfo=UTC)  # 03:00 in Berlin
    state = JobState("sim-backfill", last_success=day)
    verdict = gate(job, state, Run(day), T0)
    assert verdict.action == SKIP and verdict.message.startswith("the ledger already has 2026-01-04 02:00:00 UTC")
    assert gate(job, state, Run(day + dt.timedelta(days=1)), T0).action == RUN
    manual = gate(job, state, Run(day + dt.timedelta(hours=5), manual=True), T0)  # snapped to that day's 03:00
    assert manual.action == SKIP
    assert date_param(job, "2026-01-06") == dt.datetime(2026, 1, 6, 2, 0, tzinfo=UTC)
    assert gate(job, state, Run(T0, manual=True, date=date_param(job, "2026-01-06")), T0).action == RUN
    with pytest.raises(ValueError, match="use YYYY-MM-DD"):
        date_param(job, "06/01/2026")
    plain = configure(harness, "5m", None).job("sim")
    with pytest.raises(ValueError, match="params.date is for backfill jobs"):
        date_param(plain, "2026-01-06")


class Airflow:
    """Airflow's side: a run at every grid instant (one active at a time), each polled the way
    the sensors poke, then the job under its lock."""

    def __init__(self, harness, first: dt.datetime, every: dt.timedelta):
        self.harness, self.next_instant, self.every = harness, first, every
        self.queue: list[dt.datetime] = []
        self.outcomes: list[tuple[dt.datetime, str]] = []

    def step(self, now: dt.datetime, name: str) -> None:
        while self.next_instant <= now:
            self.queue.append(self.next_instant)
            self.next_instant += self.every
        if not self.queue:
            return
        run = Run(self.queue[0])
        settings = self.harness.settings
        job = settings.job(name)
        verdict = gate(job, self.harness.state(name), run, now)
        if verdict.action == WAIT:
            return
        self.queue.pop(0)
        if verdict.action == SKIP:
            self.outcomes.append((run.instant, verdict.message))
            return
        SIDE["now"] = "airflow"
        try:
            result = self.harness.runner().run_once(name, None, unless=lambda state: already_done(job, state, run, now))
        finally:
            SIDE["now"] = "cron"
        self.outcomes.append((run.instant, result.outcome.value))


@pytest.mark.parametrize("schedule", ["5m", "*/5 * * * *"])
def test_cutover_and_rollback_run_every_interval_exactly_once(harness, schedule):
    """Cron ticks every 7 s; Airflow's grid is 2m13s off the ledger's for the floating job."""
    clock = harness.clock
    clock.set(T0)
    configure(harness, schedule, None)
    offset = dt.timedelta(minutes=2, seconds=13) if schedule == "5m" else dt.timedelta(minutes=5)
    airflow = Airflow(harness, T0 + offset, dt.timedelta(minutes=5))
    cutover = rollback = None
    end = T0 + dt.timedelta(hours=1)
    while clock.now() < end:
        now = clock.now()
        if cutover is None and now >= T0 + dt.timedelta(minutes=11):
            cutover = harness.state("sim").next_run  # what `crontabber list` shows: an ini edit, nothing else
            configure(harness, schedule, cutover)
        if rollback is None and now >= T0 + dt.timedelta(minutes=37):
            rollback = now
            configure(harness, schedule, None)
        if int((now - T0).total_seconds()) % 7 == 0:
            harness.tick()
        airflow.step(now, "sim")
        clock.advance(1)
    times = [when for _, when, _ in RUNS]
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(times, times[1:])]
    if schedule == "5m":  # crontabber's spacing: the last run plus 5m (up to one cron tick later)
        assert len(times) == 12 and all(300 <= gap <= 307 for gap in gaps), (times, gaps)
    else:  # one run in each 5-minute interval: none lost, none doubled
        assert [int((when - T0).total_seconds() // 300) for when in times] == list(range(12)), times
    sides = [(side, when >= cutover) for _, when, side in RUNS if when < rollback]
    assert all((side == "airflow") == after for side, after in sides), RUNS
    assert RUNS[0][1:] == (T0, "cron") and {side for _, when, side in RUNS if when > rollback + offset} == {"cron"}
    first_airflow = next(when for _, when, side in RUNS if side == "airflow")
    assert first_airflow == cutover  # the first Airflow run is the ledger's next_run at the cutover
    skipped = [message for _, message in airflow.outcomes if message.startswith("cron runs this job")]
    assert skipped and len(skipped) >= 2  # before the cutover and after the rollback
