"""0.18.1's scheduling behaviours, and every FIX and NEW of design §5, on the SQLite ledger."""

import datetime as dt

import pytest

from crontabber.outcomes import Outcome
from tests import jobs_for_tests

J = "tests.jobs_for_tests."
UTC = dt.timezone.utc


def outcomes(results):
    return {name: result.outcome for name, result in results.items()}


def test_run_by_app_name_and_by_class_path(harness, calls):
    harness.configure(f"{J}FooJob|1h")
    assert harness.run_job("foo").outcome is Outcome.SUCCEEDED
    harness.clock.advance(hours=2)
    assert harness.run_job(f"{J}FooJob").outcome is Outcome.SUCCEEDED
    assert calls == [("foo",), ("foo",)]


def test_job_not_due_is_not_run_without_force(harness, calls):
    harness.configure(f"{J}FooJob|1h")
    harness.tick()
    assert harness.run_job("foo").outcome is Outcome.NOT_DUE
    assert harness.run_job("foo", force=True).outcome is Outcome.SUCCEEDED
    assert calls == [("foo",), ("foo",)]


def test_success_bookkeeping(harness):
    harness.configure(f"{J}FooJob|1h")
    start = harness.clock.now()
    harness.tick()
    state = harness.state("foo")
    assert state.first_run == state.last_run == state.last_success == start
    assert state.next_run == start + dt.timedelta(hours=1)
    assert state.error_count == 0 and state.last_error == {} and state.ongoing is None
    [entry] = harness.logs("foo")
    assert entry.outcome is Outcome.SUCCEEDED and entry.success == start and entry.exc_type is None


def test_failure_bookkeeping_and_retry_time(harness, calls):
    harness.configure(f"{J}BrokenJob|1d", error_retry_time="10m")
    start = harness.clock.now()
    assert harness.tick()["broken"].outcome is Outcome.FAILED
    state = harness.state("broken")
    assert state.error_count == 1
    assert state.last_error["type"] == "<class 'ValueError'>"  # 0.18.1's text: repr(type(e))
    assert state.last_error["value"] == "broken on purpose"
    assert "raise ValueError" in state.last_error["traceback"]
    assert state.next_run == start + dt.timedelta(minutes=10)  # retry sooner than the 1d interval
    assert state.last_success is None
    [entry] = harness.logs("broken")
    assert entry.outcome is Outcome.FAILED and entry.success is None
    assert (entry.exc_type, entry.exc_value) == ("<class 'ValueError'>", "ValueError('broken on purpose')")
    harness.clock.advance(minutes=9)
    assert harness.tick()["broken"].outcome is Outcome.NOT_DUE
    harness.clock.advance(minutes=1)
    assert harness.tick()["broken"].outcome is Outcome.FAILED
    assert harness.state("broken").error_count == 2
    assert len(calls) == 2


def test_retry_backoff_and_max_retries(harness):
    harness.configure(f"{J}BrokenJob|1d", error_retry_time="60",
                      sections={"class-BrokenJob": {"retry_backoff": 2, "max_retries": 2}})
    delays = []
    for _ in range(4):
        before = harness.clock.now()
        harness.run_job("broken", force=True)
        delays.append((harness.state("broken").next_run - before).total_seconds())
        harness.clock.advance(seconds=1)
    # 60 s, 120 s, then (after two failed retries) the next regular slot a day later.
    assert delays[:2] == [60, 120]
    assert delays[2] == delays[3] == 86400


def test_failing_dependency_blocks_child_and_force_overrides(harness, calls):
    harness.configure([f"{J}BrokenJob|1h", f"{J}BrokenChildJob|1h"])
    results = harness.tick()
    assert results["broken-child"].outcome is Outcome.SKIPPED_DEPENDENCY
    assert "'broken' errored last time it ran" in results["broken-child"].reason
    assert harness.state("broken-child").skip_reason == "'broken' errored last time it ran"
    assert harness.logs("broken-child") == []  # skips add no log row
    assert harness.run_job("broken-child", force=True).outcome is Outcome.SUCCEEDED
    assert ("broken-child",) in calls
    assert harness.state("broken-child").skip_reason is None


def test_parent_that_never_ran_blocks_child(harness):
    harness.configure([f"{J}BarJob|1h"], sections={})
    results = harness.tick()
    assert results["bar"].outcome is Outcome.SKIPPED_DEPENDENCY
    assert results["bar"].reason == "depends on 'foo', which is not configured"


def test_overdue_parent_blocks_child(harness, calls):
    harness.configure([f"{J}FooJob|1h", f"{J}BarJob|1d"])
    harness.tick()
    assert calls == [("foo",), ("bar",)]
    # foo's row says it should have run again an hour later; it has not (say it was disabled).
    harness.clock.advance(days=1, minutes=1)
    harness.ledger.save(harness.state("foo").but(next_run=harness.clock.now() - dt.timedelta(hours=23)))
    result = harness.runner().run_job("bar")
    assert result.outcome is Outcome.SKIPPED_DEPENDENCY
    assert "'foo' hasn't recently run" in result.reason


def test_depends_on_recorded(harness):
    harness.configure([f"{J}FooJob|1h", f"{J}BarJob|1h", f"{J}BazJob|1h"])
    harness.tick()
    assert harness.state("bar").depends_on == ("foo",)
    assert harness.state("baz").depends_on == ("bar",)


def test_dag_order_is_topological_then_alphabetical(harness, calls):
    harness.configure([f"{J}BazJob|1h", f"{J}BarJob|1h", f"{J}SleepJob|1h", f"{J}FooJob|1h",
                       f"{J}ConfiguredJob|1h"])
    jobs_for_tests.SleepJob.seconds = 0
    harness.tick()
    assert [c[0] for c in calls] == ["configured", "foo", "sleeper", "bar", "baz"]


def test_time_of_day_on_first_run_and_after(harness, calls):
    harness.clock.set("2026-01-05T02:00:00+00:00")
    harness.configure(f"{J}FooJob|1d|03:00")
    assert harness.tick()["foo"].outcome is Outcome.NOT_DUE  # before 03:00 on the first day
    harness.clock.set("2026-01-05T03:04:00+00:00")
    assert harness.tick()["foo"].outcome is Outcome.SUCCEEDED
    assert harness.state("foo").next_run == dt.datetime(2026, 1, 6, 3, 0, tzinfo=UTC)
    harness.clock.set("2026-01-06T02:59:00+00:00")
    assert harness.tick()["foo"].outcome is Outcome.NOT_DUE
    harness.clock.set("2026-01-06T03:00:00+00:00")
    assert harness.tick()["foo"].outcome is Outcome.SUCCEEDED
    assert len(calls) == 2


def test_time_of_day_in_configured_zone(harness):
    harness.clock.set("2026-07-01T00:30:00+00:00")  # 02:30 in Berlin (CEST)
    harness.configure(f"{J}FooJob|1d|03:00", timezone="Europe/Berlin")
    assert harness.tick()["foo"].outcome is Outcome.NOT_DUE
    harness.clock.set("2026-07-01T01:00:00+00:00")  # 03:00 in Berlin
    assert harness.tick()["foo"].outcome is Outcome.SUCCEEDED
    assert harness.state("foo").next_run == dt.datetime(2026, 7, 2, 1, 0, tzinfo=UTC)


def test_cron_job_first_run_only_on_matching_minute(harness, calls):
    harness.clock.set("2026-01-05T08:00:00+00:00")
    harness.configure(f"{J}FooJob|30 8 * * 1-5")
    assert harness.tick()["foo"].outcome is Outcome.NOT_DUE
    state = harness.state("foo")
    assert state.next_run == dt.datetime(2026, 1, 5, 8, 30, tzinfo=UTC) and state.last_run is None
    harness.clock.set("2026-01-05T08:30:20+00:00")
    assert harness.tick()["foo"].outcome is Outcome.SUCCEEDED
    assert harness.state("foo").next_run == dt.datetime(2026, 1, 6, 8, 30, tzinfo=UTC)
    assert calls == [("foo",)]


def test_cron_job_runs_at_first_sighting_when_minute_matches(harness):
    harness.clock.set("2026-01-05T08:30:00+00:00")
    harness.configure(f"{J}FooJob|30 8 * * *")
    assert harness.tick()["foo"].outcome is Outcome.SUCCEEDED


def test_backfill_over_missed_days(harness, calls):
    harness.configure(f"{J}BackfillJob|1d")
    start = harness.clock.now()
    harness.tick()
    assert calls == [("backfill", start.isoformat())]  # first run: today
    harness.clock.advance(days=3, minutes=1)
    result = harness.tick()["backfill"]
    assert [d.isoformat() for d in result.dates] == [(start + dt.timedelta(days=n)).isoformat() for n in (1, 2, 3)]
    assert harness.state("backfill").last_success == start + dt.timedelta(days=3)
    assert len(harness.logs("backfill")) == 4  # one log row per date
    harness.clock.advance(minutes=5)
    assert harness.run_job("backfill", force=True).dates == []  # no date twice
    assert len(calls) == 4


def test_backfill_failing_midway_keeps_completed_dates(harness, calls):
    harness.configure(f"{J}FlakyBackfillJob|1d")
    start = harness.clock.now()
    harness.tick()
    jobs_for_tests.FlakyBackfillJob.fail_on = "2026-01-07"
    harness.clock.advance(days=3, minutes=1)
    result = harness.tick()["flaky-backfill"]
    assert result.outcome is Outcome.FAILED
    state = harness.state("flaky-backfill")
    assert state.last_success == start + dt.timedelta(days=1)  # 01-06 done, 01-07 failed
    assert state.error_count == 1
    jobs_for_tests.FlakyBackfillJob.fail_on = None
    harness.clock.advance(minutes=10)
    result = harness.tick()["flaky-backfill"]
    assert [d.date().isoformat() for d in result.dates] == ["2026-01-07", "2026-01-08"]
    done = [c[1][:10] for c in calls]
    assert done == ["2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08"]


def test_slow_daily_backfill_does_not_drift(harness, calls):
    harness.clock.set("2026-01-05T18:00:00+00:00")
    harness.configure(f"{J}BackfillJob|1d|18:00")
    harness.tick()
    # Each day the tick reaches the job a little earlier than the day before.
    for day, minute in ((6, 2), (7, 1), (8, 3)):
        harness.clock.set(f"2026-01-{day:02d}T18:{minute:02d}:00+00:00")
        harness.tick()
    assert [c[1][:16] for c in calls] == ["2026-01-05T18:00", "2026-01-06T18:00", "2026-01-07T18:00",
                                          "2026-01-08T18:00"]


def test_run_date_by_hand_moves_last_success_only_forward(harness, calls):
    harness.configure(f"{J}BackfillJob|1d")
    harness.tick()
    latest = harness.state("backfill").last_success
    old = dt.datetime(2025, 12, 1, tzinfo=UTC)
    assert harness.run_date("backfill", old).outcome is Outcome.SUCCEEDED
    assert harness.state("backfill").last_success == latest
    later = latest + dt.timedelta(days=2)
    harness.run_date("backfill", later)
    assert harness.state("backfill").last_success == later
    assert calls[-2:] == [("backfill", old.isoformat()), ("backfill", later.isoformat())]


def test_run_date_on_non_backfill_job_is_a_usage_error(harness):
    from crontabber.errors import UsageError

    harness.configure(f"{J}FooJob|1d")
    with pytest.raises(UsageError, match="not one"):
        harness.run_date("foo", dt.datetime(2026, 1, 1, tzinfo=UTC))


def test_per_job_config_overrides(harness, calls):
    harness.configure(f"{J}ConfiguredJob|1h", sections={"class-ConfiguredJob": {"color": "red"}})
    harness.tick()
    assert calls == [("configured", "red", 1)]


def test_per_job_config_from_environment_and_command_line(harness, calls):
    harness.configure(f"{J}ConfiguredJob|1h", sections={"class-ConfiguredJob": {"color": "red"}},
                      environ={"crontabber__class-ConfiguredJob__color": "green"},
                      overrides={"crontabber.class-ConfiguredJob.size": "7"})
    harness.tick()
    assert calls == [("configured", "green", 7)]


def test_reset_forgets_the_row(harness, calls):
    harness.configure(f"{J}FooJob|1d")
    harness.tick()
    assert harness.ledger.reset("foo") is True
    assert harness.ledger.reset("foo") is False
    assert harness.tick()["foo"].outcome is Outcome.SUCCEEDED
    assert len(calls) == 2


def test_job_already_running_skips_only_itself(harness, calls):
    harness.configure([f"{J}FooJob|1h", f"{J}ConfiguredJob|1h"])
    held = harness.ledger.try_lock("foo")  # another process is running foo
    try:
        results = harness.tick()
    finally:
        held.release()
    assert results["foo"].outcome is Outcome.SKIPPED_LOCKED
    assert results["configured"].outcome is Outcome.SUCCEEDED
    assert harness.tick()["foo"].outcome is Outcome.SUCCEEDED


def test_reread_after_lock_skips_job_another_runner_just_ran(harness, calls):
    harness.configure(f"{J}FooJob|1h")
    stale_runner = harness.runner()
    stale_runner._states = harness.ledger.load_all()  # it read the ledger: foo looks due
    harness.tick()  # meanwhile another runner runs foo
    result = stale_runner._consider(stale_runner.settings.jobs[0])
    assert result.outcome is Outcome.NOT_DUE
    assert calls == [("foo",)]


def test_stale_ongoing_from_a_dead_runner_is_retried(harness, calls):
    harness.configure(f"{J}FooJob|1h")
    start = harness.clock.now()
    # a runner died mid-run: its row says ongoing, but nobody holds the lock
    from crontabber.state import JobState

    harness.ledger.save(JobState("foo", ongoing=start - dt.timedelta(minutes=5)))
    assert harness.tick()["foo"].outcome is Outcome.SUCCEEDED
    assert harness.state("foo").ongoing is None


def test_on_airflow_jobs_are_skipped_by_cron_from_their_instant(harness, calls):
    since = harness.clock.now() + dt.timedelta(hours=1)
    harness.configure(f"{J}FooJob|30m", sections={"class-FooJob": {"on_airflow_since": since.isoformat()}})
    assert harness.tick()["foo"].outcome is Outcome.SUCCEEDED
    harness.clock.advance(hours=1)
    assert harness.tick()["foo"].outcome is Outcome.SKIPPED_ON_AIRFLOW
    assert calls == [("foo",)]


def test_timeout_kills_a_python_job(harness, calls):
    jobs_for_tests.SleepJob.seconds = 30
    harness.configure(f"{J}SleepJob|1h", sections={"class-SleepJob": {"timeout": "1s"}})
    result = harness.tick()["sleeper"]
    assert result.outcome is Outcome.TIMED_OUT
    state = harness.state("sleeper")
    assert state.error_count == 1 and state.last_error["type"] == "<class 'crontabber.execution.JobTimeout'>"
    assert harness.logs("sleeper")[0].outcome is Outcome.TIMED_OUT


def test_job_with_timeout_that_finishes_records_its_dates(harness):
    jobs_for_tests.SleepJob.seconds = 0.1
    harness.configure(f"{J}SleepJob|1h", sections={"class-SleepJob": {"timeout": "20"}})
    result = harness.tick()["sleeper"]
    assert result.outcome is Outcome.SUCCEEDED
    assert harness.state("sleeper").last_success is not None


def test_failing_job_with_timeout_reports_its_exception(harness):
    harness.configure(f"{J}BrokenJob|1h", sections={"class-BrokenJob": {"timeout": "20"}})
    result = harness.tick()["broken"]
    assert result.outcome is Outcome.FAILED
    assert harness.state("broken").last_error["value"] == "broken on purpose"


def test_parallel_children_wait_for_parents(harness, calls):
    jobs_for_tests.SleepJob.seconds = 0.2
    harness.configure([f"{J}FooJob|1h", f"{J}BarJob|1h", f"{J}BazJob|1h", f"{J}SleepJob|1h",
                       f"{J}BrokenJob|1h", f"{J}BrokenChildJob|1h"])
    results = harness.tick(max_workers=4)
    order = [c[0] for c in calls]
    assert order.index("foo") < order.index("bar") < order.index("baz")
    assert results["baz"].outcome is Outcome.SUCCEEDED
    assert results["broken-child"].outcome is Outcome.SKIPPED_DEPENDENCY


def test_backfill_with_time_of_day_catches_up_every_missed_day(harness, calls):
    """The example in docs/job-authoring.md."""
    harness.configure(f"{J}BackfillJob|1d|02:00")
    harness.clock.set("2026-01-05T02:00+00:00")
    harness.tick()
    harness.clock.advance(days=3, minutes=1)
    assert len(harness.tick()["backfill"].dates) == 3
    assert harness.state("backfill").last_success.isoformat() == "2026-01-08T02:00:00+00:00"


def test_a_ledger_failure_while_recording_is_not_blamed_on_the_job(harness, calls):
    from crontabber.errors import LedgerError

    harness.configure(f"{J}BackfillJob|1d")
    harness.tick()
    harness.clock.advance(days=2, minutes=1)
    original = harness.ledger.save

    def failing_save(state, log=None):
        if log is not None:
            raise LedgerError("SQLite ledger x: disk I/O error")
        return original(state, log)

    harness.ledger.save = failing_save
    with pytest.raises(LedgerError, match="disk I/O error"):
        harness.tick()
