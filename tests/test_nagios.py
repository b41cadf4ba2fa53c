"""Nagios plugin output and exit codes (design §6, issue 2 item 8)."""

import datetime as dt
import io

from crontabber.cli import nagios
from crontabber.cli.main import main
from crontabber.state import JobState

J = "tests.jobs_for_tests."


def check(harness):
    states = harness.ledger.load_all()
    return nagios.report(harness.settings, states, harness.clock.now())


def assert_plugin_line(line):
    assert "\n" not in line
    text, _, perfdata = line.partition(" | ")
    assert "|" not in text and "=" in perfdata


def test_ok(harness):
    harness.configure(f"{J}FooJob|1h")
    harness.tick()
    code, line = check(harness)
    assert code == nagios.OK and line.startswith("OK - All systems nominal (1 jobs)")
    assert_plugin_line(line)


def test_failure_is_critical_and_backfill_first_failure_warning(harness):
    harness.configure([f"{J}BrokenJob|1h", f"{J}FlakyBackfillJob|1d"])
    from tests import jobs_for_tests

    jobs_for_tests.FlakyBackfillJob.fail_on = harness.clock.now().date().isoformat()
    harness.tick()
    code, line = check(harness)
    assert code == nagios.CRITICAL
    assert line.startswith("CRITICAL - broken (tests.jobs_for_tests.BrokenJob) failed 1 time(s): ValueError")
    assert "flaky-backfill" in line
    assert_plugin_line(line)
    harness.configure([f"{J}FlakyBackfillJob|1d"])
    code, line = check(harness)
    assert code == nagios.WARNING
    harness.clock.advance(minutes=6)
    harness.tick()
    assert check(harness)[0] == nagios.CRITICAL  # a backfill job's second failure


def test_nagios_critical_after(harness):
    harness.configure(f"{J}BrokenJob|1h", sections={"class-BrokenJob": {"nagios_critical_after": 3}})
    for expected in (nagios.WARNING, nagios.WARNING, nagios.CRITICAL):
        harness.run_job("broken", force=True)
        assert check(harness)[0] == expected


def test_global_nagios_critical_after(harness):
    harness.configure(f"{J}BrokenJob|1h", nagios_critical_after=2)
    harness.run_job("broken", force=True)
    assert check(harness)[0] == nagios.WARNING


def test_overdue_warning_and_critical(harness):
    harness.configure(f"{J}FooJob|1h", overdue_warning="30m", overdue_critical="2h")
    harness.tick()
    harness.clock.advance(hours=1, minutes=29)
    assert check(harness)[0] == nagios.OK
    harness.clock.advance(minutes=2)
    code, line = check(harness)
    assert code == nagios.WARNING and "foo is overdue by 31m" in line
    harness.clock.advance(hours=2)
    assert check(harness)[0] == nagios.CRITICAL


def test_overdue_is_off_by_default(harness):
    harness.configure(f"{J}FooJob|1h")
    harness.tick()
    harness.clock.advance(days=10)
    assert check(harness)[0] == nagios.OK


def test_lock_held_too_long_warns(harness):
    harness.configure(f"{J}FooJob|1h", max_ongoing_age_hours=2)
    now = harness.clock.now()
    harness.ledger.save(JobState("foo", next_run=now, last_run=now, ongoing=now))
    harness.clock.advance(hours=3)
    code, line = check(harness)
    assert code == nagios.WARNING and "foo has been running for 3h" in line


def test_pipes_in_error_text_stay_out_of_perfdata(harness):
    harness.configure(f"{J}FooJob|1h")
    now = harness.clock.now()
    harness.ledger.save(JobState("foo", next_run=now, last_run=now, error_count=2,
                                 last_error={"type": "E", "value": "a | b\nc", "traceback": ""}))
    code, line = check(harness)
    assert code == nagios.CRITICAL
    assert_plugin_line(line)
    assert "a / b c" in line


def test_unknown_when_ledger_cannot_be_read(tmp_path):
    ini = tmp_path / "c.ini"
    ini.write_text(f"[crontabber]\ndatabase_url = sqlite:////nonexistent/x.sqlite\njobs = {J}FooJob|1h\n")
    out = io.StringIO()
    assert main(["nagios", f"--admin.conf={ini}"], out, io.StringIO()) == nagios.UNKNOWN
    assert out.getvalue().startswith("UNKNOWN - ")
    out = io.StringIO()
    assert main(["--nagios", f"--admin.conf={tmp_path}/missing.ini"], out, io.StringIO()) == nagios.UNKNOWN


def test_cli_exit_code_is_the_plugin_status(harness, tmp_path):
    harness.configure(f"{J}BrokenJob|1h")
    harness.tick()
    out = io.StringIO()
    assert main(["-n", f"--admin.conf={harness.ini_path}"], out, io.StringIO()) == nagios.CRITICAL
    assert out.getvalue().count("\n") == 1


def test_on_airflow_job_still_watched(harness):
    since = harness.clock.now() - dt.timedelta(hours=1)
    harness.configure(f"{J}FooJob|1h", sections={"class-FooJob": {"on_airflow_since": since.isoformat()}})
    now = harness.clock.now()
    harness.ledger.save(JobState("foo", next_run=now, last_run=now, error_count=1,
                                 last_error={"type": "E", "value": "failed on Airflow", "traceback": ""}))
    assert check(harness)[0] == nagios.CRITICAL
