"""``import-crontab`` says what it changed: the lines of a new user's first day, through the real command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from crontabber.config.settings import load_settings
from crontabber.legacy.crontab_import import is_local_user, is_secret_name
from crontabber.legacy.shell import ShellSpec

CRONTABBER = Path(sys.executable).with_name("crontabber")
NOT_A_USER = "no-such-user-crontabber"


def run(tmp_path: Path, crontab: str, *args: str, shell: str | None = None):
    """``crontabber import-crontab FILE --output OUT ARGS``; (exit code, stderr lines, settings or None)."""
    source = tmp_path / "my.crontab"
    source.write_text(crontab)
    output = tmp_path / "out" / "crontabber.ini"
    command = shell or f"'{CRONTABBER}' import-crontab '{source}' --output '{output}' " + " ".join(args)
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    settings = load_settings(output, {}, {}) if output.exists() else None
    return done.returncode, done.stderr.splitlines(), settings


def test_an_unescaped_percent_is_said_on_stderr(tmp_path):
    code, err, settings = run(tmp_path, "0 4 * * * date +%F > /tmp/today\n")
    assert code == 0
    assert (f"{tmp_path / 'my.crontab'}: line 1: an unescaped % ends the command, as cron reads it: the command "
            "is 'date +' and the text after the % is its standard input (key stdin); write \\% where a "
            "literal % was meant") in err
    assert ShellSpec.from_section(settings.job("date").config).stdin == "F > /tmp/today\n"


def test_a_system_crontab_without_its_header_keeps_root_out_of_the_command(tmp_path):
    assert is_local_user("root") and not is_local_user(NOT_A_USER)
    code, err, settings = run(tmp_path, "0 4 * * *\troot\tcd /srv/app && ./backup.sh\n"
                                        "*/5 * * * * root /usr/local/bin/sync-files\n")
    assert code == 0
    assert err[0].endswith(": read as a system crontab: the sixth field of every job line is a user of this "
                           "host (root); --no-system reads the sixth field as the command")
    assert [job.app_name for job in settings.jobs] == ["backup", "sync-files"]
    backup = ShellSpec.from_section(settings.job("backup").config)
    assert (backup.argv, backup.cwd) == (("./backup.sh",), "/srv/app")

    code, err, settings = run(tmp_path, "0 4 * * *\troot\tcd /srv/app && ./backup.sh\n", "--no-system")
    assert err[0].endswith(": read as a user crontab: the command starts after the five time fields (--no-system)")
    assert [job.app_name for job in settings.jobs] == ["root"]  # as asked


def test_the_sixth_field_is_a_user_only_on_every_line_and_on_this_host(tmp_path):
    code, err, settings = run(tmp_path, "0 4 * * * root /opt/a.sh\n0 5 * * * /opt/b.sh\n")
    assert err[0].endswith(": read as a user crontab: the command starts after the five time fields; some "
                           "lines start with a user of this host: line 1 (root); if the file is a system "
                           "crontab, pass --system")
    code, err, settings = run(tmp_path, f"0 4 * * * {NOT_A_USER} /opt/a.sh\n")
    assert err[0].endswith(": read as a user crontab: the command starts after the five time fields "
                           "(--system reads a user column)")
    code, err, settings = run(tmp_path, f"0 4 * * * {NOT_A_USER} /opt/a.sh\n", "--system")
    assert err[0].endswith(": read as a system crontab: the sixth field of each job line is its user (--system)")
    assert [job.app_name for job in settings.jobs] == ["a"]
    code, err, _ = run(tmp_path, f"# m h dom mon dow user  command\n0 4 * * * {NOT_A_USER} /opt/a.sh\n")
    assert "it looks like a system crontab: if its sixth field is a user, pass --system" in err[0]


def test_sudo_and_pipes_name_the_job_after_the_script(tmp_path):
    code, err, settings = run(tmp_path, "0 4 * * * sudo -u www-data /srv/www/rebuild-index.sh | logger\n"
                                        "0 5 * * * nice -n 10 ./compact.sh 2>&1 | logger -t compact\n"
                                        "0 6 * * * timeout -s KILL 2h /opt/sync.py | tee -a /tmp/log\n")
    assert sorted(job.app_name for job in settings.jobs) == ["compact", "rebuild-index", "sync"]


def test_secrets_written_into_the_ini_are_warned_about(tmp_path):
    code, err, settings = run(tmp_path, "PGPASSWORD=hunter2\nGITHUB_TOKEN=ghp_x\nKEEP=7\nKEY_DIR=/etc/keys\n"
                                        "15 2 * * * psql -h db1 -c 'CALL reporting.refresh()'\n"
                                        "0 3 * * * AWS_SECRET_ACCESS_KEY=abc /opt/upload.sh\n")
    warnings = [line.split(": line ", 1)[1] for line in err if "looks like a secret" in line]
    assert warnings == [
        "5: PGPASSWORD looks like a secret and is written into the ini in plain text (env of psql, upload): move "
        "it to ~/.pgpass or the runner's environment (jobs inherit it) and delete it from env",
        "5: GITHUB_TOKEN looks like a secret and is written into the ini in plain text (env of psql, upload): "
        "move it to the runner's environment (jobs inherit it) and delete it from env",
        "6: AWS_SECRET_ACCESS_KEY looks like a secret and is written into the ini in plain text (env of upload): "
        "move it to the runner's environment (jobs inherit it) and delete it from env",
    ]
    assert ShellSpec.from_section(settings.job("psql").config).env["PGPASSWORD"] == "hunter2"  # still works
    assert [name for name in ("API_KEY", "KEEP", "KEY_DIR", "PGPASSFILE", "MONKEY", "SSH_AUTH_SOCK")
            if is_secret_name(name)] == ["API_KEY"]


def test_tabs_in_provenance_comments_stay_tabs(tmp_path):
    code, err, settings = run(tmp_path, "0\t4\t*\t*\t*\t/opt/backup.sh\t--full\n")
    text = (tmp_path / "out" / "crontabber.ini").read_text()
    assert "    # crontab line 1: 0\t4\t*\t*\t*\t/opt/backup.sh\t--full\n" in text
    assert "?" not in text


def test_a_crontab_on_standard_input_and_an_output_folder_that_does_not_exist(tmp_path):
    crontab = "0 4 * * * /opt/backup.sh\n"
    output = tmp_path / "new" / "folder" / "crontabber.ini"
    code, err, _ = run(tmp_path, crontab, shell=f"cat my.crontab | '{CRONTABBER}' import-crontab - --output '{output}'")
    assert code == 0, err
    assert err[0] == "stdin: read as a user crontab: the command starts after the five time fields " \
                     "(--system reads a user column)"
    assert [job.app_name for job in load_settings(output, {}, {}).jobs] == ["backup"]
    assert "converted from the crontab 'stdin'" in output.read_text()
