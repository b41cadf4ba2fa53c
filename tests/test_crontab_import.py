"""``crontabber import-crontab``: crontab lines in, a loadable ini out, the same instants and commands."""

from __future__ import annotations

import datetime as dt
import io
import os
import random
import subprocess
import zoneinfo
from pathlib import Path
from types import SimpleNamespace

import cronsim
import pytest

from crontabber.cli.main import main
from crontabber.config.settings import load_settings
from crontabber.legacy.crontab_command import convert
from crontabber.legacy.crontab_import import Unrepresentable, convert_crontab, import_command, ini_value
from crontabber.legacy.crontab_parse import parse_crontab, split_percent
from crontabber.legacy.shell import ShellSpec
from crontabber.outcomes import Outcome

UTC = dt.timezone.utc


def imported(tmp_path: Path, crontab: str, zone: str = "UTC", system: bool = False):
    """(settings loaded from the converted ini, messages as text)."""
    ini, messages = convert_crontab(crontab, "crontab", zone, system)
    path = tmp_path / "imported.ini"
    path.write_text(ini)
    return load_settings(path, {}, {}), [str(message) for message in messages]


def spec(settings, name: str) -> ShellSpec:
    return ShellSpec.from_section(settings.job(name).config)


@pytest.mark.parametrize("line, schedule, command, extra", [
    ("*/5 * * * * /usr/bin/sync-files", "*/5 * * * *", ("/usr/bin/sync-files",), {}),
    ("0 3 * * mon-fri /opt/backup.sh --full", "0 3 * * mon-fri", ("/opt/backup.sh", "--full"), {}),
    ("30 2 1,15 jan-jun * report", "30 2 1,15 jan-jun *", ("report",), {}),
    ("0 0-23/6 * * 7 report", "0 0-23/6 * * 7", ("report",), {}),
    ("@hourly report", "@hourly", ("report",), {}),
    ("@DAILY report", "@daily", ("report",), {}),
    ("\t15  4 *\t* *   report   ", "15 4 * * *", ("report",), {}),
    ("0 4 * * * cd /srv/app && ./run.sh >> /var/log/run.log 2>&1", "0 4 * * *", ("./run.sh",),
     {"cwd": "/srv/app"}),
    ("0 4 * * * cd logs; ./rotate", "0 4 * * *", ("./rotate",), {"cwd": os.path.expanduser("~/logs")}),
    ("0 4 * * * flock -n /var/lock/x.lock /opt/x.sh", "0 4 * * *", ("/opt/x.sh",), {}),
    ("0 4 * * * flock -xn -w 10 /var/lock/x.lock run-one /opt/x.sh", "0 4 * * *", ("/opt/x.sh",), {}),
    ("0 4 * * * lockrun --lockfile=/tmp/l -- /opt/x.sh", "0 4 * * *", ("/opt/x.sh",), {}),
    ("0 4 * * * /usr/local/bin/lock.sh nightly && /opt/x.sh; /usr/local/bin/unlock.sh nightly", "0 4 * * *",
     ("/opt/x.sh",), {}),
    ("0 4 * * * nice -n 15 ionice -c 2 -n 7 /opt/x.sh", "0 4 * * *", ("/opt/x.sh",),
     {"nice": 15, "ionice": ("-c", "2", "-n", "7")}),
    ("0 4 * * * nice -5 /opt/x.sh", "0 4 * * *", ("/opt/x.sh",), {"nice": 5}),
    ("0 4 * * * ionice -c3 /opt/x.sh", "0 4 * * *", ("ionice", "-c3", "/opt/x.sh"), {}),
    ("0 4 * * * FOO=bar BAZ='q r' /opt/x.sh", "0 4 * * *", ("/opt/x.sh",), {"env": {"FOO": "bar", "BAZ": "q r"}}),
    ("0 4 * * * /opt/x.sh > /dev/null 2>&1", "0 4 * * *", ("/opt/x.sh",), {}),
    ("0 4 * * * /opt/x.sh &>> /var/log/x.log", "0 4 * * *", ("/opt/x.sh",), {}),
    ("0 4 * * * timeout 2h /opt/x.sh", "0 4 * * *", ("/opt/x.sh",), {}),
    ("0 4 * * * date +\\%F %stdin line", "0 4 * * *", ("date", "+%F"), {"stdin": "stdin line\n"}),
])
def test_line_shapes(tmp_path, line, schedule, command, extra):
    settings, messages = imported(tmp_path, line + "\n")
    (job,) = settings.jobs
    assert job.entry.schedule_text == schedule
    shell = spec(settings, job.app_name)
    assert shell.argv == command
    for key, value in extra.items():
        if key == "env":
            assert {k: shell.env[k] for k in value} == value
        else:
            assert getattr(shell, key) == value
    if "cwd" not in extra:
        assert shell.cwd == os.path.expanduser("~")  # cron starts in the home directory
    if "timeout" in line:
        assert job.settings.timeout == 7200
    assert messages[-1].startswith("converted 1 jobs")


def test_pipes_and_data_redirections_stay_a_shell_command(tmp_path):
    settings, _ = imported(tmp_path, "0 1 * * * pg_dump app | gzip > /backup/app.gz\n"
                                     "0 2 * * * cd /srv && a && b >> /var/log/ab.log 2>&1\n")
    first, second = spec(settings, "pg_dump"), spec(settings, "a")
    assert first.argv == ("/bin/sh", "-c", "pg_dump app | gzip > /backup/app.gz")
    assert second.argv == ("/bin/sh", "-c", "a && b >> /var/log/ab.log 2>&1") and second.cwd == "/srv"


def test_variables_apply_to_the_lines_below_them(tmp_path):
    settings, _ = imported(tmp_path, """\
# comment
PGHOST=db.internal
0 1 * * * first
 GREETING = "hello, world"
SHELL=/bin/bash
0 2 * * * second $HOME
""")
    first, second = spec(settings, "first"), spec(settings, "second")
    assert first.env == {"PGHOST": "db.internal"}
    assert second.env == {"PGHOST": "db.internal", "GREETING": "hello, world"}
    assert second.argv == ("/bin/bash", "-c", "second $HOME")  # SHELL is honoured


def test_system_crontab_user_column_is_reported(tmp_path):
    settings, messages = imported(tmp_path, "# m h dom mon dow user  command\n"
                                            "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n"
                                            "25 6 * * * postgres /usr/bin/vacuumdb -a\n", system=True)
    assert [spec(settings, job.app_name).argv[0] for job in settings.jobs] == ["run-parts", "/usr/bin/vacuumdb"]
    user_lines = [m for m in messages if "runs as user" in m]
    assert user_lines[0].startswith("line 2: runs as user 'root'") and user_lines[1].startswith("line 3:")


def test_system_crontab_is_recognised_by_its_header(tmp_path):
    crontab = tmp_path / "crontab"
    crontab.write_text("# m h dom mon dow user\tcommand\n17 * * * * root /bin/true\n")
    out, err = io.StringIO(), io.StringIO()
    assert main(["import-crontab", str(crontab)], out, err) == 0
    assert "read as a system crontab" in err.getvalue() and "runs as user 'root'" in err.getvalue()


def test_what_cannot_be_honoured_is_reported_with_its_line(tmp_path):
    settings, messages = imported(tmp_path, """\
MAILTO=ops@example.com
@reboot /opt/start-daemon
CRON_TZ=Europe/Berlin
0 3 * * * nightly
CRON_TZ=America/New_York
0 4 * * * other
""")
    assert any(m.startswith("line 1: MAILTO=ops@example.com cannot be honoured") for m in messages)
    assert any(m.startswith("line 2: @reboot cannot be honoured") for m in messages)
    assert any(m.startswith("line 3: CRON_TZ=Europe/Berlin applies to every job") for m in messages)
    assert any(m.startswith("line 5: CRON_TZ=America/New_York cannot be honoured per job") for m in messages)
    assert str(settings.timezone) == "Europe/Berlin"
    assert [job.app_name for job in settings.jobs] == ["nightly", "other"]


def test_garbage_gets_one_message_per_line(tmp_path):
    garbage = ["hello world", "* * * *", "61 * * * * x", "0 0 L * * x", "0 0 * * 1#2 x", "@every 5m x",
               "0 0 32 * * x", "0 0 * * blursday x", "*/0 * * * * x", "0 0 * * *", "\"NAME\"=x y"]
    text = "0 1 * * * good\n" + "\n".join(garbage) + "\n"
    settings, messages = imported(tmp_path, text)
    assert [job.app_name for job in settings.jobs] == ["good"]
    numbered = [m for m in messages if m.startswith("line ")]
    assert sorted(int(m.split()[1].rstrip(":")) for m in numbered) == list(range(2, 2 + len(garbage)))


def test_app_names_come_from_the_command_and_are_unique(tmp_path):
    settings, _ = imported(tmp_path, """\
0 1 * * * /opt/backup.sh daily
0 2 * * * /opt/backup.sh weekly
0 3 * * * /usr/bin/python3 -u /opt/jobs/Clean_Up.py
0 4 * * * "$(rm -rf ~)"
0 5 * * * /opt/Ünïcödé-täsk.sh
""")
    assert [job.app_name for job in settings.jobs] == ["backup", "backup-2", "clean_up", "job", "unicode-task"]


def test_percent_rules():
    assert split_percent("date +\\%F") == ("date +%F", None)
    assert split_percent("mail -s hi root%line one%line two") == ("mail -s hi root", "line one\nline two\n")
    assert parse_crontab("0 0 * * * cat %%", False).lines[0].stdin == "\n\n"


def test_ini_values_round_trip_or_refuse():
    assert ini_value("./run.sh --full") == "./run.sh --full"
    assert ini_value("a, b") == "'''a, b'''"
    assert ini_value("ends with '") == '"""ends with \'"""'
    for bad in ("%(jobs)s", "''' and \"\"\""):
        with pytest.raises(Unrepresentable):
            ini_value(bad)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York"])
def test_converted_jobs_run_at_the_crontab_instants_for_a_year(tmp_path, zone):
    """Property: for random cron lines, the converted job's instants are cronsim's on the line itself."""
    rng = random.Random(f"crontab-{zone}")
    lines = ["30 2 * * *", "0 1-3 * * *", "59 1 * * sun", "0 0 1 * *", "15 3 * * 1-5", "@weekly"]
    for _ in range(14):
        minute = rng.choice(["0", "*/15", "5,35", str(rng.randrange(60))])
        hour = rng.choice(["*", "2", "1-3", "*/6", str(rng.randrange(24)), "0,12"])
        dom = rng.choice(["*", "*", "1", "15", "1-7", "*/10"])
        month = rng.choice(["*", "*", "mar", "oct-dec", "1,4,7,10"])
        dow = rng.choice(["*", "*", "mon-fri", "sun", "0,6", "sat"])
        lines.append(" ".join([minute, hour, dom, month, dow]))
    crontab = "".join(f"{line} /opt/task\n" for line in lines)
    settings, _ = imported(tmp_path, crontab, zone=zone)
    assert len(settings.jobs) == len(lines)
    tz = zoneinfo.ZoneInfo(zone)
    start = dt.datetime(2026, 1, 1, tzinfo=tz)
    end = start + dt.timedelta(days=366)
    for job, line in zip(sorted(settings.jobs, key=lambda job: _number(job.app_name)), lines):
        assert job.entry.schedule_text == line
        expected = []
        for local in cronsim.CronSim(line.replace("@weekly", "0 0 * * 0"), start):
            if local >= end or len(expected) >= 3000:
                break
            expected.append(local.astimezone(UTC))
        ours = []
        for when in job.schedule.instants(start.astimezone(UTC)):
            if len(ours) == len(expected):
                break
            ours.append(when)
        assert ours == expected, line


def _number(app_name: str) -> int:
    return int(app_name.rpartition("-")[2]) if app_name != "task" else 1


def test_unrepresentable_lines_are_reported_not_mangled(tmp_path):
    settings, messages = imported(tmp_path, "0 0 * * * echo \\%(jobs)s\n"
                                            "0 1 * * * echo \"'''\" '\"\"\"'\n"
                                            "0 2 * * * cat %one %two\n"
                                            "0 3 * * * fine\n")
    assert [job.app_name for job in settings.jobs] == ["fine"]
    assert [m.split(":")[0] for m in messages if m.endswith("skipped")] == ["line 1", "line 2", "line 3"]


HOSTILE = [
    "touch \"it's\" 'say \"hi\"' ünïcödé",
    "printf '[\\%s]\\n' \"$(echo sub)\" `echo tick` 'x;y' \"a&&b\" '$(no)' > out.txt",
    "touch a\\ b 'c d' -- -e",
    "FOO='x y' sh -c 'echo \"$FOO\" > foo.txt'",
    "mkdir -p sub && cd sub && touch 'in sub'",
    "mkdir -p sub2; cd sub2; pwd > where.txt",
    "echo \"multi word\" ; echo second > second.txt",
    "cat > stdin.txt % first line%second \\% line",
    "touch \"$(printf 'nl\\nname')\"",
    "touch 'line\u2028sep' 'tab\tname'",
    "echo {a,b} *.none > globs.txt",
    "touch ~/tilde.txt",
]


def _tree(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): path.read_text().replace(str(folder), "HOME") if path.is_file()
            else "<dir>" for path in sorted(folder.rglob("*"))}


def test_hostile_commands_run_exactly_what_cron_would(tmp_path, monkeypatch, crontabber_harness):
    """Each line runs once as cron would (sh -c in $HOME) and once as the converted job; same effects."""
    cron_home, job_home = tmp_path / "cron-home", tmp_path / "job-home"
    cron_home.mkdir()
    job_home.mkdir()
    crontab = "".join(f"* * * * * {command}\n" for command in HOSTILE)
    for line in parse_crontab(crontab, False).lines:
        subprocess.run(["/bin/sh", "-c", line.command], cwd=cron_home, input=(line.stdin or "").encode(),
                       env={**os.environ, "HOME": str(cron_home)}, check=True, capture_output=True)
    ini, messages = convert_crontab(crontab, "crontab", "UTC", False)
    assert not [m for m in messages if m.line and "unescaped %" not in m.text], messages
    crontabber_harness.ini_path.write_text(ini.replace(
        "[crontabber]", f"[crontabber]\ndatabase_url = {crontabber_harness.database_url}", 1))
    crontabber_harness.settings = load_settings(crontabber_harness.ini_path, {}, {})
    monkeypatch.setenv("HOME", str(job_home))
    for job in crontabber_harness.settings.jobs:
        result = crontabber_harness.run_job(job.app_name, force=True)
        assert result.outcome is Outcome.SUCCEEDED, (job.app_name, result.reason)
    assert _tree(job_home) == _tree(cron_home)
    assert "nl\nname" in _tree(job_home) and "line\u2028sep" in _tree(job_home)


def test_import_command_writes_stdout_or_output_and_exit_codes(tmp_path):
    crontab = tmp_path / "crontab"
    crontab.write_text("MAILTO=root\n0 3 * * * /opt/backup.sh\n")
    out, err = io.StringIO(), io.StringIO()
    assert main(["import-crontab", str(crontab)], out, err) == 0
    assert "job:backup|0 3 * * *" in out.getvalue() and "timezone = " in out.getvalue()
    assert "line 1: MAILTO=root cannot be honoured" in err.getvalue()
    target = tmp_path / "out.ini"
    out, err = io.StringIO(), io.StringIO()
    assert main(["import-crontab", str(crontab), "--output", str(target)], out, err) == 0
    assert out.getvalue() == "" and "job:backup" in target.read_text()
    load_settings(target, {}, {})
    assert main(["import-crontab", str(tmp_path / "missing")], io.StringIO(), err) == 2
    (tmp_path / "latin1").write_bytes(b"0 3 * * * caf\xe9\n")
    err = io.StringIO()
    assert main(["import-crontab", str(tmp_path / "latin1")], io.StringIO(), err) == 2
    assert "cannot read" in err.getvalue()
    assert main(["import-crontab"], io.StringIO(), io.StringIO()) == 2


def test_convert_keeps_unparseable_shell_verbatim():
    converted = convert("echo \"unclosed")
    assert converted.shell and converted.command == "echo \"unclosed"


def test_import_command_api(tmp_path):
    crontab = tmp_path / "crontab"
    crontab.write_text("0 3 * * * /opt/x.sh\n")
    out = io.StringIO()
    assert import_command(SimpleNamespace(args=[str(crontab)], output=None), out, io.StringIO()) == 0
    assert "[[job-x]]" in out.getvalue()


def test_psql_calling_one_procedure_becomes_a_procedure_job(tmp_path):
    settings, _ = imported(tmp_path, """\
PGHOST=db.internal
PGUSER=report er
0 1 * * * psql -X -v ON_ERROR_STOP=1 -d reports -c 'CALL reporting.refresh_views()' >> /var/log/r.log 2>&1
0 2 * * * psql -h /var/run/postgresql -c 'SELECT "Odd".tidy()'
0 3 * * * psql -c 'CALL a(); DROP TABLE b'
PGPASSWORD=secret
0 4 * * * psql -c 'CALL reporting.refresh_views()'
""")
    jobs = {job.app_name: job for job in settings.jobs}
    assert jobs["refresh_views"].kind == "procedure"
    assert jobs["refresh_views"].config["procedure"] == "reporting.refresh_views"
    assert jobs["refresh_views"].config["database_url"] == "postgresql://report%20er@db.internal/reports"
    assert jobs["tidy"].config["procedure"] == '"Odd".tidy'
    assert jobs["tidy"].config["database_url"] == "postgresql://report%20er@/?host=%2Fvar%2Frun%2Fpostgresql"
    assert jobs["psql"].kind == "shell" and jobs["psql-2"].kind == "shell"  # not one call; a password
    assert "secret" not in jobs["psql-2"].config["command"]


def test_app_names_skip_builtins_and_assignments(tmp_path):
    settings, _ = imported(tmp_path, "0 1 * * * test -e /run/x || MODE=1 /usr/sbin/e2scrub_all -A\n"
                                     "0 2 * * * pg_dump app | gzip > /backup/app.gz\n")
    assert sorted(job.app_name for job in settings.jobs) == ["e2scrub_all", "pg_dump"]
