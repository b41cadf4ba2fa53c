"""DST days through the runner, in two zones: a skipped time runs at the next valid instant,
a repeated one runs once (design §4)."""

import datetime as dt
import zoneinfo

import pytest

from crontabber.outcomes import Outcome

J = "tests.jobs_for_tests."
UTC = dt.timezone.utc


def run_every_minute(harness, start, end):
    """Tick once a minute from ``start`` to ``end`` (UTC) and return the instants foo ran at."""
    ran = []
    harness.clock.set(start)
    while harness.clock.now() <= end:
        if harness.tick()["foo"].outcome is Outcome.SUCCEEDED:
            ran.append(harness.clock.now())
        harness.clock.advance(minutes=1)
    return ran


@pytest.mark.parametrize("schedule", ["30 2 * * *", "1d|02:30"])
@pytest.mark.parametrize("zone,spring,fall", [
    ("Europe/Berlin", "2026-03-29", "2026-10-25"),
    ("America/New_York", "2026-03-08", "2026-11-01"),
])
def test_dst_days(harness, schedule, zone, spring, fall):
    tz = zoneinfo.ZoneInfo(zone)
    harness.configure(f"{J}FooJob|{schedule}", timezone=zone)
    # Establish the job the day before, at its normal time.
    day_before = dt.date.fromisoformat(spring) - dt.timedelta(days=1)
    first = dt.datetime.combine(day_before, dt.time(2, 30), tz).astimezone(UTC)
    harness.clock.set(first)
    assert harness.tick()["foo"].outcome is Outcome.SUCCEEDED
    # Spring forward: 02:30 does not exist; the job runs once, at 03:00 local.
    spring_day = dt.date.fromisoformat(spring)
    ran = run_every_minute(harness, dt.datetime.combine(spring_day, dt.time(0), tz).astimezone(UTC),
                           dt.datetime.combine(spring_day, dt.time(6), tz).astimezone(UTC))
    assert [t.astimezone(tz).strftime("%H:%M%z") for t in ran] == [
        dt.datetime.combine(spring_day, dt.time(3), tz).strftime("%H:%M%z")]
    # Fall back: 02:30 happens twice (New York: 01:30 repeats, 02:30 once); the job runs once.
    fall_day = dt.date.fromisoformat(fall)
    harness.clock.set(dt.datetime.combine(fall_day - dt.timedelta(days=1), dt.time(2, 30), tz).astimezone(UTC))
    assert harness.run_job("foo", force=True).outcome is Outcome.SUCCEEDED  # ran normally the day before
    ran = run_every_minute(harness, dt.datetime.combine(fall_day, dt.time(0), tz).astimezone(UTC),
                           dt.datetime.combine(fall_day, dt.time(5), tz).astimezone(UTC))
    assert len(ran) == 1
    assert ran[0].astimezone(tz).strftime("%H:%M") == "02:30"
