"""Frequencies, times of day, cron expressions and DST rules (design §4)."""

import datetime as dt
import zoneinfo

import pytest

from crontabber.schedule import (
    CronSchedule,
    FrequencySchedule,
    ScheduleError,
    local_instant,
    parse_duration,
    parse_frequency,
    parse_schedule,
    parse_time,
    parse_zone,
)

UTC = dt.timezone.utc
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def utc(*args):
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("text,seconds", [("5m", 300), ("2h", 7200), ("1d", 86400), ("1w", 604800),
                                          (" 3d ", 259200)])
def test_frequencies(text, seconds):
    assert parse_frequency(text) == seconds


@pytest.mark.parametrize("text", ["3e", "0h", "-1d", "h", "1.5h", "", "10"])
def test_bad_frequencies(text):
    with pytest.raises(ScheduleError, match="bad frequency"):
        parse_frequency(text)


@pytest.mark.parametrize("text,expected", [("03:00", (3, 0)), ("3:05", (3, 5)), ("23:59", (23, 59)),
                                           ("1:1", (1, 1))])
def test_times(text, expected):
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["24:00", "7:60", "noon", "12", "-1:00"])
def test_bad_times(text):
    with pytest.raises(ScheduleError, match="bad time of day"):
        parse_time(text)


@pytest.mark.parametrize("text,seconds", [("300", 300), (300, 300), ("5m", 300), ("1.5h", 5400),
                                          ("2d", 172800), ("10s", 10)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_bad_zone_names_the_fix():
    with pytest.raises(ScheduleError, match="IANA"):
        parse_zone("Mars/Olympus")


def test_time_needs_daily_frequency():
    with pytest.raises(ScheduleError, match="at least 1d"):
        parse_schedule("2h|03:00", UTC)


def test_schedule_forms():
    assert parse_schedule("5m", UTC) == FrequencySchedule(300, None, UTC, "5m")
    assert parse_schedule("03:00", UTC).time == (3, 0)
    assert parse_schedule("03:00", UTC).seconds == 86400
    assert parse_schedule("2d|04:30", UTC).time == (4, 30)
    assert isinstance(parse_schedule("0 3 * * 1-5", UTC), CronSchedule)
    assert parse_schedule("@daily", UTC).expression == "0 0 * * *"
    assert parse_schedule("  0   3 *  * 1,3,5 ", UTC).expression == "0 3 * * 1,3,5"


@pytest.mark.parametrize("text", ["61 * * * *", "* * * *", "@fortnightly", "0 25 * * *"])
def test_bad_cron(text):
    with pytest.raises(ScheduleError):
        parse_schedule(text, UTC)


def test_frequency_next_run_snaps_to_time_of_day():
    schedule = parse_schedule("1d|03:00", UTC)
    assert schedule.next_after(utc(2026, 1, 5, 3, 7, 12)) == utc(2026, 1, 6, 3, 0)
    assert schedule.next_after(utc(2026, 1, 5, 2, 59)) == utc(2026, 1, 6, 3, 0)


def test_due_without_row_time_of_day():
    schedule = parse_schedule("03:00", BERLIN)
    assert not schedule.due_without_row(utc(2026, 1, 5, 1, 59))  # 02:59 Berlin
    assert schedule.due_without_row(utc(2026, 1, 5, 2, 0))  # 03:00 Berlin


def test_cron_matches_current_minute_only():
    schedule = parse_schedule("30 8 * * 1-5", UTC)
    assert schedule.matches(utc(2026, 1, 5, 8, 30, 45))
    assert not schedule.matches(utc(2026, 1, 5, 8, 31))
    assert not schedule.matches(utc(2026, 1, 10, 8, 30))  # Saturday
    assert schedule.next_after(utc(2026, 1, 9, 9, 0)) == utc(2026, 1, 12, 8, 30)


# -- DST: a skipped local time runs at the next valid instant; a repeated one runs once ----------

@pytest.mark.parametrize("tz,day,expected_utc", [
    (BERLIN, dt.date(2026, 3, 29), utc(2026, 3, 29, 1, 0)),   # 02:30 skipped -> 03:00 CEST
    (NEW_YORK, dt.date(2026, 3, 8), utc(2026, 3, 8, 7, 0)),   # 02:30 skipped -> 03:00 EDT
])
def test_skipped_local_time_runs_at_next_valid_instant(tz, day, expected_utc):
    assert local_instant(day, 2, 30, tz) == expected_utc
    cron = parse_schedule("30 2 * * *", tz)
    assert cron.next_after(dt.datetime.combine(day, dt.time(0), tz)) == expected_utc
    timed = parse_schedule("1d|02:30", tz)
    assert timed.next_after(dt.datetime.combine(day - dt.timedelta(days=1), dt.time(2, 30), tz)) == expected_utc


@pytest.mark.parametrize("tz,day,expected_utc", [
    (BERLIN, dt.date(2026, 10, 25), utc(2026, 10, 25, 0, 30)),   # first 02:30 (+02:00)
    (NEW_YORK, dt.date(2026, 11, 1), utc(2026, 11, 1, 5, 30)),   # first 01:30 (-04:00)
])
def test_repeated_local_time_runs_once(tz, day, expected_utc):
    hour = 2 if tz is BERLIN else 1
    assert local_instant(day, hour, 30, tz) == expected_utc
    expression = f"30 {hour} * * *"
    start = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(12), tz)
    cron_runs = [t for t in _take(parse_schedule(expression, tz).instants(start), 3) if t.date() <= day]
    timed_runs = [t for t in _take(parse_schedule(f"1d|{hour:02d}:30", tz).instants(start), 3)
                  if t.astimezone(tz).date() == day]
    assert [t for t in cron_runs if t.astimezone(tz).date() == day] == [expected_utc]
    assert timed_runs == [expected_utc]


def test_time_of_day_and_cron_agree_for_a_year_in_berlin():
    start = utc(2026, 1, 1)
    timed = _take(parse_schedule("1d|02:30", BERLIN).instants(start), 365)
    cron = _take(parse_schedule("30 2 * * *", BERLIN).instants(start), 365)
    assert timed == cron
    assert len({t.astimezone(BERLIN).date() for t in timed}) == 365  # once a day, every day


def test_25_hour_day_does_not_make_a_midnight_job_due_twice():
    schedule = parse_schedule("1d|00:00", BERLIN)
    ran = local_instant(dt.date(2026, 10, 25), 0, 0, BERLIN)
    assert schedule.next_after(ran) == local_instant(dt.date(2026, 10, 26), 0, 0, BERLIN)


def test_backfill_dates_pin_time_and_skip_none():
    schedule = parse_schedule("1d|03:00", UTC)
    dates = list(schedule.backfill_dates(utc(2026, 1, 1, 3, 0, 40), utc(2026, 1, 4, 3, 5)))
    assert dates == [utc(2026, 1, 2, 3), utc(2026, 1, 3, 3), utc(2026, 1, 4, 3)]


def test_weekly_frequency():
    schedule = parse_schedule("1w", UTC)
    assert schedule.next_after(utc(2026, 1, 5)) == utc(2026, 1, 12)


def _take(iterator, count):
    return [next(iterator) for _ in range(count)]
