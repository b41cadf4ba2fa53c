"""The command line: 0.18.1 flags, subcommands, exit codes and one-line errors (design §6)."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crontabber.cli.main import main

J = "tests.jobs_for_tests."
ROOT = Path(__file__).resolve().parents[1]


def write_ini(folder, jobs, extra="", **options):
    path = Path(folder) / "crontabber.ini"
    lines = ["[crontabber]", f"database_url = sqlite:///{folder}/ledger.sqlite", "jobs = '''"]
    lines += [f"    {job}" for job in jobs] + ["'''"]
    lines += [f"{k} = {v}" for k, v in options.items()]
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_version():
    from crontabber import __version__

    assert cli("--version") == (0, f"{__version__}\n", "")
    assert cli("-v")[1] == f"{__version__}\n"


def test_run_then_list_table_and_json(tmp_path, calls):
    ini = write_ini(tmp_path, [f"{J}FooJob|1h", f"{J}BarJob|1h", f"{J}BrokenJob|1h"])
    code, out, err = cli(f"--admin.conf={ini}")
    assert code == 0  # the tick ran even though a job failed
    assert "job broken failed: ValueError: broken on purpose" in err
    assert len(err.strip().splitlines()) == 1
    code, out, _ = cli("list", f"--admin.conf={ini}")
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split()[:3] == ["JOB", "STATE", "LAST"]
    foo = next(line for line in lines if line.startswith("foo"))
    assert " ok " in foo and "(in 59m" in foo
    bar = next(line for line in lines if line.startswith("bar"))
    assert "foo" in bar  # depends_on column
    broken = next(line for line in lines if line.startswith("broken"))
    assert "failing" in broken and "ValueError: broken on purpose" in broken
    code, out, _ = cli("--list-jobs", f"--admin.conf={ini}", "--format", "json")
    data = {row["app_name"]: row for row in json.loads(out)}
    assert data["bar"]["depends_on"] == ["foo"]
    assert data["broken"]["error_count"] == 1 and data["broken"]["state"] == "failing"
    assert data["foo"]["runs_on"] == "cron"


def test_job_flag_runs_only_when_due_and_says_why(tmp_path, calls):
    ini = write_ini(tmp_path, [f"{J}FooJob|1h"])
    assert cli(f"--admin.conf={ini}", "--job", "foo")[0] == 0
    code, out, _ = cli(f"--admin.conf={ini}", "--job=foo")
    assert code == 0 and "foo did not run: it is not due yet" in out
    assert cli(f"--admin.conf={ini}", "-j", "foo", "-f")[0] == 0
    assert len(calls) == 2


def test_job_flag_exit_1_when_the_job_fails(tmp_path):
    ini = write_ini(tmp_path, [f"{J}BrokenJob|1h"])
    code, _, err = cli(f"--admin.conf={ini}", "--job", "broken")
    assert code == 1 and "broken failed: ValueError: broken on purpose" in err
    assert len(err.strip().splitlines()) == 1  # one line, not one from the runner and one from the CLI
    quiet = write_ini(tmp_path, [f"{J}BrokenJob|1h"], extra="[logging]\nstderr_error_logging_level = 40\n")
    code, _, err = cli(f"--admin.conf={quiet}", "--job", "broken", "--force")
    assert code == 1 and err == "crontabber: job broken failed: ValueError: broken on purpose\n"


def test_job_flag_blocked_by_dependency_exit_0(tmp_path):
    ini = write_ini(tmp_path, [f"{J}BrokenJob|1h", f"{J}BrokenChildJob|1h"])
    cli(f"--admin.conf={ini}")
    code, out, _ = cli(f"--admin.conf={ini}", "--job", "broken-child")
    assert code == 0 and "'broken' errored last time it ran" in out


def test_date_flag(tmp_path, calls):
    ini = write_ini(tmp_path, [f"{J}BackfillJob|1d", f"{J}FooJob|1d"])
    assert cli(f"--admin.conf={ini}", "--job", "backfill", "--date", "2025-12-01")[0] == 0
    assert calls == [("backfill", "2025-12-01T00:00:00+00:00")]
    code, _, err = cli(f"--admin.conf={ini}", "--job", "foo", "--date", "2025-12-01")
    assert code == 2 and "not one" in err
    assert cli(f"--admin.conf={ini}", "--job", "backfill", "--date", "yesterday")[0] == 2
    assert cli(f"--admin.conf={ini}", "--date", "2025-12-01")[0] == 2


def test_reset_and_audit_ghosts(tmp_path, calls):
    ini = write_ini(tmp_path, [f"{J}FooJob|1h", f"{J}ConfiguredJob|1h"])
    cli(f"--admin.conf={ini}")
    code, out, _ = cli("reset", "foo", f"--admin.conf={ini}")
    assert code == 0 and "foo: reset" in out
    assert "already reset" in cli(f"--admin.conf={ini}", "--reset-job=foo")[1]
    assert cli(f"--admin.conf={ini}", "-r", "nope")[0] == 2
    ini = write_ini(tmp_path, [f"{J}FooJob|1h"])
    code, out, _ = cli("audit-ghosts", f"--admin.conf={ini}")
    assert code == 0 and "\tconfigured" in out
    assert "configured" in cli("--audit-ghosts", f"--admin.conf={ini}")[1]


def test_max_workers_flag(tmp_path, calls):
    ini = write_ini(tmp_path, [f"{J}FooJob|1h", f"{J}BarJob|1h"])
    assert cli(f"--admin.conf={ini}", "--max-workers", "3")[0] == 0
    assert calls == [("foo",), ("bar",)]
    assert cli(f"--admin.conf={ini}", "--max-workers", "0")[0] == 2


def test_configtest_ok_and_verbose_provenance(tmp_path, monkeypatch):
    ini = write_ini(tmp_path, [f"{J}ConfiguredJob|1h"], error_retry_time="10m",
                    extra="    [[class-ConfiguredJob]]\n    color = red\n    timeout = 30\n")
    monkeypatch.setenv("crontabber__max_retries", "4")
    code, out, _ = cli("configtest", f"--admin.conf={ini}", "--verbose", "--crontabber.retry_backoff=3")
    assert code == 0 and out.rstrip().splitlines()[-1].startswith("OK: 1 jobs configured")
    assert f"crontabber.error_retry_time = 10m  (from {ini}:6)" in out
    assert "timeout                30.0  (from" in out and f"{ini}:9)" in out
    assert "max_retries            4  (from [crontabber] environment crontabber__max_retries)" in out
    assert "retry_backoff          3.0  (from [crontabber] command line --crontabber.retry_backoff)" in out
    assert cli("--configtest", f"--admin.conf={ini}")[0] == 0


def test_configtest_reports_unconfigured_dependency(tmp_path):
    ini = write_ini(tmp_path, [f"{J}BarJob|1h"])
    code, out, _ = cli("configtest", f"--admin.conf={ini}")
    assert code == 2
    assert "job 'bar' depends on 'foo', which is not configured" in out


def test_legacy_0_18_1_ini_loads_unchanged(tmp_path):
    ini = tmp_path / "crontabber.ini"
    ini.write_text(f"""# written for crontabber 0.18.1
application=crontabber.app.CronTabber

[crontabber]
database_class=crontabber.connection_factory.ConnectionFactory
transaction_executor_class=crontabber.transaction_executor.TransactionExecutorWithInfiniteBackoff
job_state_db_class=crontabber.app.JobStateDatabase
error_retry_time=120
max_ongoing_age_hours=6.0
jobs='''
  {J}FooJob|1h
  {J}ConfiguredJob|2d|03:00
'''
    [[class-ConfiguredJob]]
    color=purple

[logging]
stderr_error_logging_level=40
syslog_error_logging_level=40

[resource]
    [[logging]]
    syslog_host=localhost
    syslog_port=514
    syslog_facility_string=user
    [[postgresql]]
    database_class=crontabber.connection_factory.ConnectionFactory
    transaction_executor_class=crontabber.transaction_executor.TransactionExecutor

[sentry]
dsn=

[secrets]
    [[sentry]]
    dsn=
""")
    code, out, err = cli("configtest", f"--admin.conf={ini}", f"--crontabber.database_url=sqlite:///{tmp_path}/l.sqlite")
    assert code == 0, out + err
    assert "note: option application is accepted for crontabber 0.18.1 compatibility" in out
    assert "crontabber.transaction_executor_class" in out
    assert "syslog" not in out  # acted on now: syslog gets the log lines
    code, out, err = cli(f"--admin.conf={ini}", f"--crontabber.database_url=sqlite:///{tmp_path}/l.sqlite")
    assert code == 0 and err == ""


def test_a_sentry_dsn_adds_nothing_to_a_clean_tick(tmp_path):
    ini = write_ini(tmp_path, [f"{J}FooJob|1h"], extra="[sentry]\ndsn=https://key@sentry.example/1\n")
    code, _, err = cli(f"--admin.conf={ini}")
    assert (code, err) == (0, "")


@pytest.mark.parametrize("jobs,extra_options,message", [
    (["tests.jobs_for_tests.FooJob"], {}, "has no schedule"),
    (["no_such_module.Job|1h"], {}, "cannot import module 'no_such_module'"),
    ([f"{J}NoSuchJob|1h"], {}, "has no class 'NoSuchJob'"),
    ([f"{J}NoAppNameJob|1h"], {}, "has no app_name"),
    ([f"{J}FooJob|3e"], {}, "bad frequency '3e'"),
    ([f"{J}FooJob|0h"], {}, "bad frequency '0h'"),
    ([f"{J}FooJob|-1d"], {}, "bad frequency '-1d'"),
    ([f"{J}FooJob|1d|24:00"], {}, "bad time of day '24:00'"),
    ([f"{J}FooJob|7:60"], {}, "bad time of day '7:60'"),
    ([f"{J}FooJob|2h|03:00"], {}, "needs a frequency of at least 1d"),
    ([f"{J}FooJob|61 * * * *"], {}, "bad cron expression"),
    ([f"{J}FooJob|1h"], {"timezone": "Mars/Base"}, "unknown time zone 'Mars/Base'"),
    ([f"{J}CycleAJob|1h", f"{J}CycleBJob|1h"], {}, "dependency cycle: cycle-"),
    ([f"{J}FooJob|1h", "tests.jobs_same_name.FooJob|1h"], {}, "two configured classes are named 'FooJob'"),
    ([f"{J}FooJob|1h", f"{J}FooJob|2h"], {}, "app_name 'foo' is configured twice"),
    ([f"{J}FooJob|1h"], {"error_retry_time": "soon"}, "crontabber.error_retry_time = 'soon'"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, jobs, extra_options, message):
    ini = write_ini(tmp_path, jobs, **extra_options)
    for argv in ([f"--admin.conf={ini}"], ["configtest", f"--admin.conf={ini}"]):
        code, out, err = cli(*argv)
        assert code == 2
        assert message in err, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert str(ini) in err or "cycle" in message
    assert not (tmp_path / "ledger.sqlite").exists()  # found before the ledger is opened


def test_bad_entry_names_its_file_line(tmp_path):
    ini = write_ini(tmp_path, [f"{J}FooJob|1h", f"{J}BarJob|3e"])
    _, _, err = cli(f"--admin.conf={ini}")
    assert f"{ini}:5:" in err and "BarJob|3e" in err


def test_missing_config_file_exit_2(tmp_path):
    code, _, err = cli(f"--admin.conf={tmp_path}/nope.ini")
    assert code == 2 and "nope.ini not found" in err


def test_unknown_flag_and_subcommand_exit_2():
    assert cli("--frobnicate")[0] == 2
    assert cli("frobnicate")[0] == 2


def test_unwritable_ledger_exit_3(tmp_path):
    ini = write_ini(tmp_path, [f"{J}FooJob|1h"])
    code, _, err = cli(f"--admin.conf={ini}", "--crontabber.database_url=sqlite:////nonexistent/dir/l.sqlite")
    assert code == 3 and "/nonexistent/dir" in err and len(err.strip().splitlines()) == 1


def test_unreadable_ledger_file_exit_3(tmp_path):
    ini = write_ini(tmp_path, [f"{J}FooJob|1h"])
    (tmp_path / "ledger.sqlite").write_bytes(b"this is not a database" * 100)
    code, _, err = cli(f"--admin.conf={ini}")
    assert code == 3 and "ledger.sqlite" in err


def test_debug_shows_the_traceback(tmp_path):
    ini = write_ini(tmp_path, ["no_such_module.Job|1h"])
    _, _, err = cli(f"--admin.conf={ini}", "--debug")
    assert "Traceback" in err


def test_subprocess_exit_codes_and_no_airflow_on_help(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    ini = write_ini(tmp_path, [f"{J}FooJob|1h"])
    proc = subprocess.run([sys.executable, "-m", "crontabber", f"--admin.conf={ini}"], env=env,
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stderr == ""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "crontabber", "--help"], env=env,
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and "export-dags" in proc.stdout
    imported = [line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line]
    assert "crontabber.cli.main" in imported
    assert not [name for name in imported if name.split(".")[0] == "airflow"]


def test_0_18_1_implicit_config_folder(tmp_path, monkeypatch, calls):
    """Without --admin.conf, 0.18.1 read ./config/crontabber.ini (or $DEFAULT_SOCORRO_CONFIG_PATH)."""
    (tmp_path / "config").mkdir()
    write_ini(tmp_path / "config", [f"{J}FooJob|1h"])
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEFAULT_SOCORRO_CONFIG_PATH", raising=False)
    assert cli()[0] == 0 and calls == [("foo",)]
    elsewhere = tmp_path / "etc"
    elsewhere.mkdir()
    write_ini(elsewhere, [f"{J}ConfiguredJob|1h"])
    monkeypatch.setenv("DEFAULT_SOCORRO_CONFIG_PATH", str(elsewhere))
    assert cli()[0] == 0 and calls[-1][0] == "configured"
    monkeypatch.setenv("DEFAULT_SOCORRO_CONFIG_PATH", str(tmp_path / "nope"))
    code, _, err = cli()
    assert code == 2 and "DEFAULT_SOCORRO_CONFIG_PATH" in err
