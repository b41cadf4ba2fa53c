"""Shell-command jobs (design §7): real scripts, run by the real runner, recorded in a real ledger."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from crontabber.errors import ConfigError
from crontabber.legacy.shell import ShellSpec, parse_env, parse_ionice, parse_size
from crontabber.outcomes import Outcome


def q(value: str) -> str:
    """A value in the triple quotes the ini needs for commas, quotes and #."""
    return f"'''{value}'''"


def script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


def run_shell(harness, name: str = "job", schedule: str = "1h", **section: str):
    harness.configure(f"job:{name}|{schedule}", sections={f"job-{name}": section})
    return harness.run_job(name, force=True)


def test_success_keeps_stdout_and_stderr_in_the_log(harness, tmp_path):
    path = script(tmp_path, "ok.sh", "echo to-stdout\necho to-stderr >&2\n")
    result = run_shell(harness, command=q(str(path)))
    assert result.outcome is Outcome.SUCCEEDED
    (entry,) = harness.logs("job")
    assert entry.outcome is Outcome.SUCCEEDED
    assert "to-stdout" in entry.output and "to-stderr" in entry.output
    assert harness.state("job").error_count == 0


def test_failure_carries_exit_code_and_stderr_tail(harness, tmp_path):
    path = script(tmp_path, "bad.sh", "echo working\necho 'disk full on /backup' >&2\nexit 3\n")
    result = run_shell(harness, command=q(str(path)))
    assert result.outcome is Outcome.FAILED
    (entry,) = harness.logs("job")
    assert entry.exc_type == "<class 'crontabber.legacy.shell.ShellCommandFailed'>"  # 0.18.1's text
    assert "exit code 3" in entry.exc_value and "disk full on /backup" in entry.exc_value
    assert "working" in entry.output
    state = harness.state("job")
    assert state.error_count == 1 and "exit code 3" in state.last_error["value"]


def test_killed_by_a_signal_says_which(harness, tmp_path):
    path = script(tmp_path, "segv.sh", "kill -SEGV $$\n")
    result = run_shell(harness, command=q(str(path)))
    assert result.outcome is Outcome.FAILED
    assert "killed by SIGSEGV" in harness.logs("job")[0].exc_value


def test_output_is_truncated_to_the_tail_and_says_how_much_was_cut(harness, tmp_path):
    path = script(tmp_path, "chatty.sh", """\
        i=0
        while [ $i -lt 5000 ]; do echo "line $i ................................"; i=$((i+1)); done
        echo THE-END
        """)
    result = run_shell(harness, command=q(str(path)), output_limit="1k")
    assert result.outcome is Outcome.SUCCEEDED
    output = harness.logs("job")[0].output
    header, body = output.split("\n", 1)
    assert "bytes cut" in header
    cut = int(header.split()[1])
    assert len(body.encode()) == 1024
    assert cut + 1024 == sum(len(f"line {i} ................................\n") for i in range(5000)) + 8
    assert body.endswith("THE-END\n")


def test_non_utf8_output_does_not_crash(harness, tmp_path):
    path = script(tmp_path, "bytes.sh", r"printf 'caf\351 \377\376 ok\n'; printf '\377 err\n' >&2; exit 1" "\n")
    result = run_shell(harness, command=q(str(path)))
    assert result.outcome is Outcome.FAILED
    entry = harness.logs("job")[0]
    assert "\ufffd" in entry.output and "ok" in entry.output
    assert "exit code 1" in entry.exc_value and "\ufffd err" in entry.exc_value


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def test_timeout_kills_the_whole_process_group(harness, tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    path = script(tmp_path, "hang.sh", f"""\
        sleep 300 &
        echo $! > {pidfile}
        echo started
        sleep 300
        """)
    result = run_shell(harness, command=q(str(path)), timeout="1")
    assert result.outcome is Outcome.TIMED_OUT
    grandchild = int(pidfile.read_text())
    assert not _running(grandchild)
    entry = harness.logs("job")[0]
    assert entry.outcome is Outcome.TIMED_OUT
    assert "timeout" in entry.exc_value and "started" in entry.output
    assert harness.state("job").error_count == 1


def test_background_leftovers_of_a_finished_command_are_terminated(harness, tmp_path):
    pidfile = tmp_path / "leftover.pid"
    path = script(tmp_path, "fork.sh", f"sleep 300 &\necho $! > {pidfile}\necho parent done\n")
    result = run_shell(harness, command=q(str(path)))
    assert result.outcome is Outcome.SUCCEEDED
    assert not _running(int(pidfile.read_text()))


def test_env_and_cwd(harness, tmp_path):
    workdir = tmp_path / "work dir"
    workdir.mkdir()
    path = script(tmp_path, "show.sh", 'echo "GREETING=$GREETING"; echo "MODE=$MODE"; pwd; echo x > out.txt\n')
    env = "GREETING=hello, world\nMODE='fast'"
    result = run_shell(harness, command=q(str(path)), cwd=q(str(workdir)), env=q(env))
    assert result.outcome is Outcome.SUCCEEDED
    output = harness.logs("job")[0].output
    assert "GREETING=hello, world" in output and "MODE=fast" in output
    assert str(workdir) in output
    assert (workdir / "out.txt").exists()


def test_a_missing_cwd_or_program_is_a_clear_failure(harness, tmp_path):
    result = run_shell(harness, command="no-such-program-xyz")
    assert result.outcome is Outcome.FAILED
    assert "cannot start 'no-such-program-xyz'" in harness.logs("job")[0].exc_value
    result = run_shell(harness, name="other", command="true", cwd=str(tmp_path / "missing"))
    assert result.outcome is Outcome.FAILED
    assert "missing" in harness.logs("other")[0].exc_value


def test_a_missing_working_directory_is_said_as_such(harness, tmp_path):
    """The issue's case: ``nice`` started in a folder that is not there (not "cannot start 'nice'")."""
    result = run_shell(harness, command="nice ./x.sh", cwd=str(tmp_path / "opt-x"))
    assert result.outcome is Outcome.FAILED
    assert harness.state("job").last_error["value"] == (f"working directory '{tmp_path / 'opt-x'}' does not "
                                                        "exist: create it or change cwd in the job's section")
    (tmp_path / "a-file").write_text("")
    run_shell(harness, name="other", command="true", cwd=str(tmp_path / "a-file"))
    assert "is not a directory: change cwd" in harness.logs("other")[0].exc_value


def test_without_shell_metacharacters_are_plain_words(harness, tmp_path):
    command = f"echo $(touch {tmp_path}/a) `touch {tmp_path}/b` ; touch {tmp_path}/c && touch {tmp_path}/d \"q'uote\""
    result = run_shell(harness, command=q(command), cwd=str(tmp_path))
    assert result.outcome is Outcome.SUCCEEDED
    assert not any((tmp_path / name).exists() for name in "abcd")
    assert f"$(touch {tmp_path}/a) `touch {tmp_path}/b` ;" in harness.logs("job")[0].output
    assert "q'uote" in harness.logs("job")[0].output


def test_shell_true_runs_through_sh(harness, tmp_path):
    result = run_shell(harness, command=q("printf 'b\\na\\n' | sort | tr '\\n' , && echo"), shell="true")
    assert result.outcome is Outcome.SUCCEEDED
    assert harness.logs("job")[0].output == "a,b,\n"


def test_stdin_nice_and_ionice(harness, tmp_path):
    result = run_shell(harness, command="cat", stdin=q("first line\nsecond line"))
    assert result.outcome is Outcome.SUCCEEDED
    assert harness.logs("job")[0].output == "first line\nsecond line"
    base = os.nice(0)
    result = run_shell(harness, name="niced", command="nice", nice="7")
    assert harness.logs("niced")[0].output.strip() == str(min(19, base + 7))
    result = run_shell(harness, name="idle", command="ionice", ionice="idle")
    assert result.outcome is Outcome.SUCCEEDED
    assert harness.logs("idle")[0].output.strip() == "idle"


def test_unicode_command_and_app_name(harness, tmp_path):
    path = script(tmp_path, "ünï.sh", 'echo "héllo ✓"\n')
    result = run_shell(harness, name="backup-ünï", command=q(str(path)))
    assert result.outcome is Outcome.SUCCEEDED
    assert harness.logs("backup-ünï")[0].output == "héllo ✓\n"


@pytest.mark.parametrize("section, message", [
    ({"command": q("echo 'unbalanced")}, "cannot be split"),
    ({"command": "echo a, b"}, "triple quotes"),
    ({"command": "true", "env": q("not an assignment")}, "NAME=value"),
    ({"command": "true", "env": q("1X=2")}, "NAME=value"),
    ({"command": "true", "nice": "30"}, "-20 to 19"),
    ({"command": "true", "ionice": "fastest"}, "best-effort"),
    ({"command": "true", "ionice": "idle:3"}, "no level"),
    ({"command": "true", "output_limit": "lots"}, "output_limit"),
    ({"command": "true", "shell": "maybe"}, "true or false"),
])
def test_bad_sections_are_config_errors_at_load(harness, section, message):
    with pytest.raises(ConfigError, match=message) as info:
        harness.configure("job:broken|1h", sections={"job-broken": section})
    assert "'broken'" in str(info.value)


def test_parsers():
    assert parse_env("A=1, B=x y\nC='q'\n# comment\n") == {"A": "1", "B": "x y", "C": "q"}
    assert parse_env(["A=1", "B=2"]) == {"A": "1", "B": "2"}
    assert parse_env("PATH=/bin:/usr/bin,LANG=C.UTF-8") == {"PATH": "/bin:/usr/bin", "LANG": "C.UTF-8"}
    assert parse_ionice("best-effort:7") == ("-c", "2", "-n", "7")
    assert parse_ionice("3") == ("-c", "3")
    assert parse_size("64k") == 65536 and parse_size("") == 65536 and parse_size("10") == 10
    spec = ShellSpec.from_section({"command": "run.sh 'a b'", "nice": "5", "ionice": "idle"})
    assert spec.full_argv() == ["ionice", "-c", "3", "nice", "-n", "5", "run.sh", "a b"]


def test_with_subprocess_returns_text(harness):
    from crontabber.base import SubprocessMixin

    class Job(SubprocessMixin):
        app_name = "sub"

    code, out, err = Job({}, None).run_process(["printf", "caf\\351 ok"])
    assert code == 0 and isinstance(out, str) and out == "caf\ufffd ok" and err == ""


def test_configtest_verbose_shows_argv_and_env_names_but_not_values(harness, tmp_path):
    import io

    from crontabber.cli import configtest

    settings = harness.configure("job:job|1h", sections={"job-job": {
        "command": q("./run.sh 'a b'"), "env": q("TOKEN=s3cret\nMODE=fast"), "nice": "5", "cwd": str(tmp_path)}})
    out = io.StringIO()
    assert configtest.report(settings, out, verbose=True) == 0
    text = out.getvalue()
    assert "nice -n 5 ./run.sh 'a b'" in text and "TOKEN, MODE" in text and "s3cret" not in text
    assert str(tmp_path) in text


def test_a_large_stdin_the_command_never_reads_cannot_block_the_timeout(harness, tmp_path):
    big = "x" * 300_000
    result = run_shell(harness, command=q("sleep 30"), stdin=q(big), timeout="1")
    assert result.outcome is Outcome.TIMED_OUT
    result = run_shell(harness, name="reader", command="wc -c", stdin=q(big))
    assert harness.logs("reader")[0].output.strip() == str(len(big))


@pytest.mark.parametrize("name", ["x$(touch PWNED)", "y`touch PWNED`", "z'q\"", "ünï-名前"])
def test_hostile_app_names_are_only_names(harness, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    try:
        result = run_shell(harness, name=name, command="pwd", cwd=str(tmp_path))
    except ConfigError as exc:  # the ini format may refuse the name: it must say so, not run it
        assert "PWNED" not in os.listdir(tmp_path), exc
        return
    assert result.outcome is Outcome.SUCCEEDED
    assert harness.logs(name)[0].output.strip() == str(tmp_path)
    assert "PWNED" not in os.listdir(tmp_path)
