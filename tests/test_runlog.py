"""``crontabber log JOB``: what a job printed, when it ran and how it ended, in the operator's zone."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

from crontabber.cli.main import main
from crontabber.cli.runlog import error_text, short_type

SECTIONS = {
    "job-greet": {"command": "'''sh -c 'echo hello from greet; echo second line'" + "'''"},
    "job-fails": {"command": "'''sh -c 'echo partial work; echo disk full >&2; exit 3'" + "'''"},
}


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_log_shows_start_duration_outcome_error_and_output_in_the_configured_zone(harness):
    harness.configure("job:greet|1h\njob:fails|1h", sections=SECTIONS, timezone="Europe/Berlin",
                      error_retry_time="1h")
    harness.tick()  # 2026-01-05 12:00 UTC = 13:00 in Berlin (winter)
    harness.clock.set("2026-07-01T09:00+00:00")  # summer: +02:00
    harness.tick()
    conf = f"--admin.conf={harness.ini_path}"

    code, out, err = cli("log", "fails", conf)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "fails: 2 runs, newest first; times in Europe/Berlin"
    blocks = out.split("\n\n")[1:]
    assert blocks[0].startswith("2026-07-01 11:00:00 +02:00  failed after ")
    assert blocks[1].startswith("2026-01-05 13:00:00 +01:00  failed after ")
    assert "  error:  ShellCommandFailed: exit code 3; stderr tail:\n          disk full\n" in blocks[0]
    assert blocks[0].endswith("  output:\n    partial work\n    disk full")

    code, out, _ = cli("log", "greet", conf, "-n", "1")
    assert out.splitlines()[0] == "greet: the last run (-n N shows more), newest first; times in Europe/Berlin"
    assert out.count("succeeded in ") == 1 and "2026-07-01 11:00:00 +02:00  succeeded in " in out
    assert "  output:\n    hello from greet\n    second line\n" in out
    assert "error" not in out

    code, out, _ = cli("log", "greet", conf, "--utc")
    assert "2026-07-01 09:00:00 +00:00  succeeded" in out and "2026-01-05 12:00:00 +00:00  succeeded" in out


def test_log_json_gives_iso_instants_and_the_error_fields(harness):
    harness.configure("job:fails|1h", sections=SECTIONS, timezone="Europe/Berlin")
    harness.tick()
    code, out, _ = cli("log", "fails", f"--admin.conf={harness.ini_path}", "--format", "json")
    (run,) = json.loads(out)
    assert dt.datetime.fromisoformat(run["end"]) == dt.datetime(2026, 1, 5, 12, tzinfo=dt.timezone.utc)
    assert run["end"].endswith("+00:00") and run["outcome"] == "failed" and run["duration"] >= 0
    assert run["error"]["type"] == "ShellCommandFailed"
    assert run["error"]["message"].startswith("exit code 3")
    assert run["output"] == "partial work\ndisk full\n"


def test_log_of_a_backfill_job_names_each_date(harness):
    harness.configure("tests.jobs_for_tests.BackfillJob|1d", timezone="America/New_York")
    harness.tick()
    harness.clock.advance(days=3)
    harness.tick()
    dates = [entry.success for entry in harness.logs("backfill")]
    assert len(dates) >= 3
    code, out, _ = cli("log", "backfill", f"--admin.conf={harness.ini_path}")
    shown = [line.split("date:", 1)[1].strip() for line in out.splitlines() if line.startswith("  date:")]
    zone = dt.timezone(dt.timedelta(hours=-5))
    assert shown == [f"{when.astimezone(zone):%Y-%m-%d %H:%M:%S} -05:00" for when in reversed(dates)]
    assert out.count("succeeded in") == len(dates)


def test_log_usage_errors_are_one_line_exit_2(harness):
    harness.configure("job:greet|1h", sections=SECTIONS)
    conf = f"--admin.conf={harness.ini_path}"
    assert cli("log", "nope", conf)[0::2] == (2, "crontabber: error: no job 'nope' is configured "
                                                 "(configured: greet)\n")
    assert cli("log", conf)[0::2] == (2, "crontabber: error: log needs one job name: crontabber log NAME "
                                         "[-n RUNS] [--format json]\n")
    assert cli("log", "greet", conf, "-n", "0")[0] == 2
    code, out, _ = cli("log", "greet", conf)
    assert (code, out) == (0, "greet: no runs in the ledger yet\n")


def test_log_through_the_installed_command_and_a_pipe(harness):
    """As an operator types it: the console script, ``-n`` after ``log``, piped into head."""
    harness.configure("job:greet|1h", sections=SECTIONS)
    harness.tick()
    script = Path(sys.executable).with_name("crontabber")
    done = subprocess.run(f"'{script}' log greet -n 5 --admin.conf='{harness.ini_path}' | head -1",
                          shell=True, capture_output=True, text=True, timeout=60)
    assert done.stdout == "greet: 1 run, newest first; times in UTC\n"
    assert done.stderr == ""


def test_error_text_reads_both_ledger_spellings():
    assert short_type("crontabber.legacy.shell.ShellCommandFailed") == "ShellCommandFailed"
    assert short_type("<class 'crontabber.legacy.shell.ShellCommandFailed'>") == "ShellCommandFailed"
    assert short_type("ValueError") == "ValueError"
    assert error_text("ValueError('boom')", "<class 'ValueError'>") == "boom"
    assert error_text("boom", "ValueError") == "boom"
    assert error_text("KeyError('a', 'b')", "KeyError") == "a, b"
