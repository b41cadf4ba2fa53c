"""What an operator meets when a configuration is wrong or silent (issue 10, items 4, 6-9).

configtest refuses first, with the same line, whatever the run would refuse; no configuration
at all is an error that creates nothing; a missing parent and unknown keys are said every
tick; a malformed ini is one line; ``| head`` ends quietly; the SQLite ledger is private.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crontabber.cli.main import main

REPO = Path(__file__).resolve().parents[1]
J = "tests.jobs_for_tests."


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def command(*argv: str, cwd: Path = REPO, env: dict | None = None, umask: str | None = None):
    """The real ``crontabber`` command (a process), with ``umask`` when given."""
    environ = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    line = [sys.executable, "-m", "crontabber", *argv]
    if umask is not None:
        line = ["/bin/sh", "-c", f'umask {umask} && exec "$@"', "sh", *line]
    return subprocess.run(line, cwd=cwd, env=environ, capture_output=True, text=True, timeout=120)


def ini(folder: Path, body: str, name: str = "crontabber.ini") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body).lstrip())
    return path


# -- item 4: configtest refuses first, with the same line, what the run refuses ----------------
REFUSED = {
    "huge frequency": (f"""
        [crontabber]
        jobs = {J}FooJob|3000000d
        """, "at most 100 years"),
    "frequency past any integer": (f"""
        [crontabber]
        jobs = {J}FooJob|99999999999999999999d
        """, "at most 100 years"),
    "huge retry time": (f"""
        [crontabber]
        jobs = {J}FooJob|1h
        error_retry_time = 99999999999d
        """, "at most 100 years"),
    "a '#' in the password, unquoted": (f"""
        [crontabber]
        database_url = postgresql://cron:pa#ss@127.0.0.1:5432/cron
        jobs = {J}FooJob|1h
        """, "cut the value at '#'"),
    "a '/' in the password, unencoded": (f"""
        [crontabber]
        database_url = postgresql://cron:pa/ss@127.0.0.1:5432/cron
        jobs = {J}FooJob|1h
        """, "percent-encode it"),
    "not a port": (f"""
        [crontabber]
        database_url = postgresql://cron@127.0.0.1:fivefour/cron
        jobs = {J}FooJob|1h
        """, "the port must be a number"),
    "a keyword DSN": (f"""
        [crontabber]
        database_url = host=127.0.0.1 password=pw
        jobs = {J}FooJob|1h
        """, "use sqlite:///"),
    "a control character in an app name": ("""
        [crontabber]
        jobs = job:bell\x07ring|1h
        [[job-bell\x07ring]]
        command = true
        """, "control character"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_configtest_refuses_first_with_the_same_line_what_the_run_refuses(tmp_path, case):
    body, words = REFUSED[case]
    path = ini(tmp_path, body)
    test_code, test_out, test_err = cli("configtest", f"--admin.conf={path}")
    run_code, run_out, run_err = cli("run", f"--admin.conf={path}")
    assert run_code == 2 and words in run_err and len(run_err.splitlines()) == 1, run_err
    assert test_code == 2 and (test_out + test_err).strip().endswith(run_err.split("error: ", 1)[1].strip())
    assert not list(tmp_path.glob("crontabber.sqlite*"))  # refused before the ledger is opened


def test_a_postgresql_url_without_psycopg2(tmp_path):
    blocker = tmp_path / "blocked"
    (blocker / "psycopg2").mkdir(parents=True)
    (blocker / "psycopg2" / "__init__.py").write_text("raise ImportError('psycopg2 is not installed')\n")
    path = ini(tmp_path, f"""
        [crontabber]
        database_url = postgresql://cron@127.0.0.1/cron
        jobs = {J}FooJob|1h
        """)
    env = {"PYTHONPATH": f"{blocker}{os.pathsep}{REPO}"}
    tested, ran = command("configtest", f"--admin.conf={path}", env=env), command(f"--admin.conf={path}", env=env)
    assert ran.returncode == 2 and tested.returncode == 2
    assert ran.stderr == tested.stderr and "needs psycopg2" in ran.stderr and len(ran.stderr.splitlines()) == 1
    assert "pip install psycopg2-binary" in ran.stderr


# -- item 6: silent no-ops ---------------------------------------------------------------
def test_no_configuration_at_all_is_an_error_that_creates_nothing(tmp_path):
    env = {"DEFAULT_SOCORRO_CONFIG_PATH": ""}
    for argv in ([], ["list"], ["configtest"], ["reset", "x"]):
        done = command(*argv, cwd=tmp_path, env=env)
        assert done.returncode == 2, (argv, done.stderr)
        assert done.stderr.splitlines() == [done.stderr.strip()] and "--admin.conf" in done.stderr
        assert str(tmp_path / "config" / "crontabber.ini") in done.stderr  # where it looked
    done = command("nagios", cwd=tmp_path, env=env)
    assert done.returncode == 3 and done.stdout.startswith("UNKNOWN - no configuration")
    assert list(tmp_path.iterdir()) == []  # no crontabber.sqlite, no .locks
    # jobs given on the command line need no file
    done = command(f"--crontabber.jobs={J}FooJob|1h", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr


def test_a_missing_parent_is_said_every_tick_and_nagios_warns(tmp_path):
    path = ini(tmp_path, f"""
        [crontabber]
        jobs = '''
            {J}BarJob|1h
            job:other|1h
        '''
        [[job-other]]
        command = true
        """)  # bar depends on foo, which is not in the list
    for _ in range(2):
        code, _, err = cli("run", f"--admin.conf={path}")
        assert code == 0
        assert [line for line in err.splitlines() if "not configured" in line] == [
            line for line in err.splitlines() if "bar depends on foo" in line] and err.count("not configured") == 1
    code, out, _ = cli("nagios", f"--admin.conf={path}")
    assert code == 1 and out.startswith("WARNING - bar depends on foo, which is not configured")
    code, out, _ = cli("list", f"--admin.conf={path}")
    assert [line.split()[:2] for line in out.splitlines() if line.startswith("other")] == [["other", "ok"]]


def test_unknown_keys_warn_every_tick_configtest_lists_them_and_strict_fails(tmp_path):
    path = ini(tmp_path, f"""
        [crontabber]
        database_url = sqlite:///{tmp_path}/ledger.sqlite
        error_retry_tiem = 5m
        jobs = '''
            {J}FooJob|1h
            job:sh|1h
        '''
        [[class-FooJob]]
        tiemout = 5
        [[class-FooJbo]]
        timeout = 5
        [[job-sh]]
        command = true
        comand = false
        [[job-nothere]]
        command = true
        [othersection]
        anything = 1
        [resource]
            [[rabbitmq]]
            host = elsewhere
        """)
    code, _, err = cli("run", f"--admin.conf={path}")
    warnings = [line for line in err.splitlines() if "WARNING" in line]
    assert code == 0 and len(warnings) == 5, err
    assert any("unknown option crontabber.error_retry_tiem is ignored (did you mean error_retry_time?)" in w
               for w in warnings)
    assert any("[[class-FooJbo]] matches no configured job" in w and "did you mean [[class-FooJob]]" in w
               for w in warnings)
    assert any(f"{path}:9" in w and "'tiemout' in [[class-FooJob]]" in w and "timeout?" in w for w in warnings)
    assert not any("othersection" in w or "rabbitmq" in w for w in warnings)
    code, out, _ = cli("configtest", f"--admin.conf={path}")
    assert code == 0 and out.count("warning: ") == 5 and "othersection" not in out
    code, out, _ = cli("configtest", "--strict", f"--admin.conf={path}")
    assert code == 2 and out.count("ERROR: ") == 5


def test_an_unchanged_0_18_1_ini_stays_quiet(tmp_path):
    """Keys 0.18.1 wrote (its --admin.dump_conf) in and out of [crontabber] say nothing."""
    path = ini(tmp_path, f"""
        application = CronTabber
        job =
        list-jobs = False
        force = False
        [crontabber]
            jobs = {J}FooJob|1h
            error_retry_time = 300
            max_ongoing_age_hours = 12.0
            database_class = crontabber.connection_factory.ConnectionFactory
            job_state_db_class = crontabber.app.JobStateDatabase
            transaction_executor_class = crontabber.transaction_executor.TransactionExecutor
            database_url = sqlite:///{tmp_path}/ledger.sqlite
            [[class-FooJob]]
                frequency = 1h
                time =
        [logging]
            stderr_error_logging_level = 10
        [resource]
            [[postgresql]]
                database_class = crontabber.connection_factory.ConnectionFactory
                backoff_delays = 10, 30, 60
        [secrets]
            [[postgresql]]
                database_password = secret
        [sentry]
            dsn =
        """)
    code, _, err = cli("run", f"--admin.conf={path}")
    assert code == 0 and "WARNING" not in err, err
    code, out, _ = cli("configtest", "--strict", f"--admin.conf={path}")
    assert code == 0 and "warning" not in out.lower(), out


# -- item 7: a malformed ini is one line: the file, the line, what is wrong --------------------
MALFORMED = {
    "a line that is no key": ("[crontabber]\njobs = a.B|1h\nthis is not a key\n", 3, "neither a [section]"),
    "an unclosed header": ("[crontabber\njobs = a.B|1h\n", 1, "is not closed"),
    "a key twice": ("[crontabber]\njobs = a.B|1h\njobs = c.D|1h\n", 3, "jobs is set twice"),
    "an unclosed triple quote": ("[crontabber]\njobs = '''\n  a.B|1h\n", 2, "never ends"),
    "a section twice": ("[crontabber]\n[crontabber]\n", 2, "appears twice"),
    "too deep": ("[crontabber]\n[[[deep]]]\n", 2, "nested deeper"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_ini_is_one_line_naming_file_line_and_fault(tmp_path, case):
    text, line, words = MALFORMED[case]
    path = tmp_path / "brokenini.conf"  # not .ini: read as ini all the same
    path.write_text(text)
    for argv in (["run"], ["configtest"], ["list"]):
        code, out, err = cli(*argv, f"--admin.conf={path}")
        assert code == 2 and out == "" and err.splitlines() == [err.strip()], (argv, err)
        assert f"{path}:{line}: " in err and words in err, err
        assert "cannot be found" not in err and "No module named" not in err


def test_a_non_utf8_ini(tmp_path):
    path = tmp_path / "crontabber.ini"
    path.write_bytes(b"[crontabber]\njobs = caf\xe9.B|1h\n")
    code, _, err = cli("configtest", f"--admin.conf={path}")
    assert code == 2 and "not UTF-8" in err and str(path) in err and len(err.splitlines()) == 1


# -- item 8: a reader that goes away ------------------------------------------------------
@pytest.mark.parametrize("argv", [["list", "--format", "json"], ["configtest", "--verbose"], ["export-dags"]])
def test_a_closed_pipe_ends_the_command_quietly(tmp_path, argv):
    """``| head -1``: the reader takes a line and goes. export-dags prints little, so its reader
    goes before it writes at all (every write then fails, as the last ones do under head)."""
    small = argv == ["export-dags"]
    if small:
        argv = [*argv, f"--output={tmp_path / 'dags'}"]
    jobs = "\n".join(f"    job:job-{n:03d}|1h" for n in range(400))
    sections = "\n".join(f"[[job-job-{n:03d}]]\ncommand = true" for n in range(400))
    path = ini(tmp_path, f"[crontabber]\njobs = '''\n{jobs}\n'''\n{sections}\n")
    environ = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "crontabber", *argv, f"--admin.conf={path}"], cwd=REPO,
                            env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if not small:
        assert proc.stdout.readline()  # more than the pipe holds follows, so the writer is still at it
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "Broken" not in err and "Exception ignored" not in err
    if not small:
        assert err == ""


# -- item 9: a private ledger, printable app names --------------------------------------------
@pytest.mark.parametrize("group,file_mode,dir_mode", [(False, 0o600, 0o700), (True, 0o660, 0o770)])
def test_the_sqlite_ledger_is_private_whatever_the_umask(tmp_path, group, file_mode, dir_mode):
    path = ini(tmp_path, f"""
        [crontabber]
        jobs = {J}FooJob|1h
        sqlite_group_access = {str(group).lower()}
        """)
    done = command(f"--admin.conf={path}", umask="000")
    assert done.returncode == 0, done.stderr
    ledger = tmp_path / "crontabber.sqlite"
    files = [ledger, tmp_path / "crontabber.sqlite-wal", tmp_path / "crontabber.sqlite-shm"]
    files += list((tmp_path / "crontabber.sqlite.locks").iterdir())
    assert len(files) >= 4
    for file in files:
        if file.exists():
            assert stat.S_IMODE(file.stat().st_mode) == file_mode, file
    assert stat.S_IMODE((tmp_path / "crontabber.sqlite.locks").stat().st_mode) == dir_mode


def test_an_app_name_with_a_line_break_is_refused_at_load(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "newline_jobs_mod.py").write_text(
        "from crontabber.base import BaseCronApp\n\n"
        "class Split(BaseCronApp):\n    app_name = 'one\\ntwo'\n\n    def run(self):\n        pass\n")
    path = ini(tmp_path, """
        [crontabber]
        jobs = newline_jobs_mod.Split|1h
        """)
    code, _, err = cli("configtest", f"--admin.conf={path}")
    assert code == 2 and err.splitlines() == [err.strip()]
    assert f"{path}:2: app_name 'one\\ntwo'" in err and "line break" in err
