"""A job's processes and its lock live and die together (issue 10, items 2 and 5), with real
runner processes killed by SIGKILL, stopped by SIGTERM and SIGINT, on both stores.

What must hold: a runner's death ends its jobs, grandchildren included, within 5 s, and
until they are gone the job's lock stays taken; a forked Python job keeps neither the
runner's database session nor its lock files; SIGTERM/SIGINT stop the jobs, record them
as ``interrupted`` (due again at once, error count unchanged) and exit 143/130.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from crontabber.cli.main import main
from crontabber.outcomes import Outcome
from crontabber.state import JobState, open_ledger
from tests.proc_support import finish, kill_tagged, start, tagged, wait_until
from tests.runner_jobs import read_calls

UTC = dt.timezone.utc
SHELL_WAITER = ("printf '[\"start\", \"shell\", \"%s\", 0, 0]\\n' $$ >> \"$CRONTABBER_TEST_CALLS\"; "
                "sleep 120 & while [ ! -e \"$CRONTABBER_TEST_RELEASE\" ]; do sleep 0.05; done; kill $!")
CLASSES = {"in-process": "tests.stopping_jobs.InProcessWaiter", "forked": "tests.stopping_jobs.ForkedWaiter"}


def write_ini(folder: Path, url: str, names: list[str], extra: str = "") -> Path:
    entries = [f"{CLASSES[name]}|1d" if name in CLASSES else f"job:{name}|1d" for name in names]
    jobs = "\n".join(f"    {entry}" for entry in entries)
    ini = folder / "crontabber.ini"
    sections = "[[class-ForkedWaiter]]\ntimeout = 120\n" if "forked" in names else ""
    if "shell" in names:
        sections += f"[[job-shell]]\nshell = true\ncommand = '''{SHELL_WAITER}'''\n"
    ini.write_text(f"""[crontabber]
database_url = {url}
jobs = '''
{jobs}
'''
{extra}
{sections}""")
    return ini


class Run:
    """One runner process of a test, its calls and release files and its process tag."""

    def __init__(self, folder: Path, url: str, names: list[str], *args: str, extra: str = "") -> None:
        self.calls, self.release = folder / "calls.jsonl", folder / "release"
        self.ini = write_ini(folder, url, names, extra)
        self.tag = uuid.uuid4().hex
        self.args = args
        self.process = None

    def start(self, *args: str):
        env = {"CRONTABBER_TEST_CALLS": str(self.calls), "CRONTABBER_TEST_RELEASE": str(self.release)}
        self.process = start(self.ini, *(args or self.args), tag=self.tag, env=env)
        return self.process

    def started(self, name: str, times: int = 1) -> list[int]:
        """Pids of the job's starts so far (waiting up to 30 s for the ``times``-th)."""
        def pids():
            found = [int(c[2]) for c in read_calls(self.calls) if c[0] == "start" and c[1] == name]
            return found if len(found) >= times else None
        found = wait_until(pids, 30)
        assert found, finish(self.process, 5)
        return found

    def job_processes(self) -> dict[int, str]:
        return tagged([self.tag], exclude=[self.process.pid])

    def cleanup(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
        kill_tagged([self.tag])


@pytest.fixture
def runs():
    made = []

    def make(*args, **kwargs) -> Run:
        made.append(Run(*args, **kwargs))
        return made[-1]

    yield make
    for run in made:
        run.cleanup()


def cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue() + err.getvalue()


def stream_socket_inodes() -> set[str]:
    """The inodes of this host's TCP and Unix-domain sockets (/proc/net/tcp, tcp6, unix)."""
    inodes = set()
    for table, column in (("/proc/net/tcp", 9), ("/proc/net/tcp6", 9), ("/proc/net/unix", 6)):
        with open(table) as rows:
            inodes |= {row.split()[column] for row in list(rows)[1:] if len(row.split()) > column}
    return inodes


def take_and_release(ledger, name: str) -> bool:
    lock = ledger.try_lock(name)
    if lock is None:
        return False
    lock.release()
    return True


@pytest.mark.parametrize("job", ["shell", "forked"])
def test_sigkill_of_the_runner_ends_its_job_and_grandchildren_before_the_lock_goes(tmp_path, store_url, runs, job):
    run = runs(tmp_path, store_url, [job])
    run.start()
    pid = run.started(job)[0]
    assert wait_until(lambda: any("sleep 120" in cmd for cmd in run.job_processes().values()), 10)
    ledger = open_ledger(store_url)
    try:
        assert not take_and_release(ledger, job)
        if job == "forked":  # the forked child keeps neither the session nor a lock file
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
            streams = stream_socket_inodes()  # a session is a TCP or Unix stream (not the syslog datagram)
            held = [link for link in links if ".locks" in link
                    or (link.startswith("socket:") and link[len("socket:["):-1] in streams)]
            assert not held, links
        run.process.kill()
        killed = time.monotonic()
        run.process.communicate()
        while time.monotonic() - killed < 6:
            free = take_and_release(ledger, job)  # the lock first: if it is free, nothing may be left
            left = run.job_processes()
            assert not (free and left), f"lock free while {left} still run"
            if free:
                break
            time.sleep(0.02)
        assert not run.job_processes() and time.monotonic() - killed < 5
        assert wait_until(lambda: take_and_release(ledger, job), 5)
    finally:
        ledger.close()


def sqlite_or_postgres(request, tmp_path, store: str):
    if store == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    from tests.pg_support import temp_database

    context = temp_database()
    request.addfinalizer(lambda: context.__exit__(None, None, None))
    return context.__enter__()


@pytest.mark.parametrize("job,store", [("shell", "sqlite"), ("forked", "postgres"), ("in-process", "postgres"),
                                       ("in-process", "sqlite")])
def test_sigterm_stops_the_job_records_it_interrupted_and_exits_143(request, tmp_path, runs, job, store):
    store_url = sqlite_or_postgres(request, tmp_path, store)
    ledger = open_ledger(store_url)
    before = dt.datetime.now(UTC) - dt.timedelta(days=2)
    failing = {"type": "ValueError", "value": "boom", "traceback": ""}
    ledger.save(JobState(job, next_run=before, last_run=before, first_run=before, error_count=2,
                         last_error=failing))
    run = runs(tmp_path, store_url, [job])
    try:
        run.start()
        run.started(job)
        run.process.send_signal(signal.SIGTERM)
        code, out, err = finish(run.process, 30)
        assert code == 143, err
        assert err.splitlines() == [f"crontabber: stopped by SIGTERM; interrupted (they run again at "
                                    f"the next tick): {job}"]
        assert not run.job_processes()
        row = ledger.load([job])[job]
        assert row.ongoing is None and row.next_run <= dt.datetime.now(UTC)
        assert row.error_count == 2 and row.last_error == failing  # unchanged: not a failure
        assert "interrupted" in row.skip_reason
        entry = ledger.logs(job)[0]
        assert entry.outcome is Outcome.INTERRUPTED and "SIGTERM" in entry.exc_value
        run.release.touch()  # due again at once: the next tick runs it to the end
        assert finish(run.start(), 60)[0] == 0
        row = ledger.load([job])[job]
        assert row.error_count == 0 and row.last_success is not None and row.skip_reason is None
    finally:
        ledger.close()


def test_sigint_exits_130(tmp_path, runs):
    run = runs(tmp_path, f"sqlite:///{tmp_path / 'ledger.sqlite'}", ["shell"])
    run.start()
    run.started("shell")
    run.process.send_signal(signal.SIGINT)
    code, _, err = finish(run.process, 30)
    assert code == 130 and "stopped by SIGINT" in err and len(err.splitlines()) == 1
    assert not run.job_processes()


def test_sigterm_with_parallel_workers_stops_and_records_every_running_job(request, tmp_path, runs):
    store_url = sqlite_or_postgres(request, tmp_path, "postgres")
    names = ["forked", "in-process", "shell"]
    run = runs(tmp_path, store_url, names, "--max-workers", "3")
    run.start()
    for name in names:
        run.started(name)
    stopped = time.monotonic()
    run.process.send_signal(signal.SIGTERM)
    code, _, err = finish(run.process, 30)
    assert code == 143 and time.monotonic() - stopped < 10, err
    assert len(err.splitlines()) == 1 and all(name in err for name in names)
    assert not run.job_processes()
    ledger = open_ledger(store_url)
    try:
        for name in names:
            entry = ledger.logs(name)[0]
            assert entry.outcome is Outcome.INTERRUPTED and "SIGTERM" in entry.exc_value
            assert not [other for other in names if other in entry.exc_value]  # its own reason only
            assert ledger.load([name])[name].ongoing is None
    finally:
        ledger.close()


def test_three_interruptions_in_a_row_make_nagios_warn(tmp_path, runs):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    run = runs(tmp_path, url, ["shell"])
    for time_ in range(1, 4):
        run.start()
        run.started("shell", times=time_)
        run.process.send_signal(signal.SIGTERM)
        assert finish(run.process, 30)[0] == 143
        code, out = cli("nagios", f"--admin.conf={run.ini}")
        if time_ < 3:
            assert code == 0 and out.startswith("OK"), out
    assert code == 1 and "shell was interrupted 3 times in a row" in out, out


@pytest.mark.parametrize("how,store", [(signal.SIGKILL, "postgres"), (signal.SIGTERM, "sqlite")])
def test_an_interrupted_forced_run_is_due_at_once(request, tmp_path, runs, how, store):
    """``--job X --force`` while X's next run is a day away, killed: the next tick runs X."""
    store_url = sqlite_or_postgres(request, tmp_path, store)
    ledger = open_ledger(store_url)
    now = dt.datetime.now(UTC)
    ledger.save(JobState("shell", next_run=now + dt.timedelta(days=1), last_run=now - dt.timedelta(hours=1),
                         last_success=now - dt.timedelta(hours=1), first_run=now - dt.timedelta(days=9)))
    run = runs(tmp_path, store_url, ["shell"])
    try:
        run.start("--job", "shell", "--force")
        run.started("shell")
        run.process.send_signal(how)
        finish(run.process, 30)
        assert wait_until(lambda: not run.job_processes(), 5)
        run.release.touch()
        code, out, err = finish(run.start(), 60)  # a plain tick, no --job
        assert code == 0, err
        assert len(run.started("shell")) == 2  # it ran again at once
        code, out = cli("list", f"--admin.conf={run.ini}")
        assert code == 0 and "running" not in out
        outcomes = [entry.outcome for entry in ledger.logs("shell")]
        assert outcomes == [Outcome.SUCCEEDED, Outcome.INTERRUPTED]
        row = ledger.load(["shell"])["shell"]
        assert row.ongoing is None and row.next_run > now + dt.timedelta(hours=23)
    finally:
        ledger.close()
