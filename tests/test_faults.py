"""Faults, with real runner processes: SIGKILL mid-job and mid-backfill (on both stores), a
PostgreSQL restart mid-tick (on a private cluster), a terminated session, a refused connection.

What must hold: nothing stays locked after a crash, work finished before a fault is
recorded, the runner stops with exit 3 and one password-free line naming the server,
and the next invocation carries on.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from crontabber.outcomes import Outcome
from crontabber.state import JobState, open_ledger
from tests.pg_support import (
    PrivateCluster,
    crontabber,
    execute,
    free_port,
    temp_database,
    wait_for,
    with_database,
    write_ini,
)
from tests.runner_jobs import read_calls

J = "tests.runner_jobs."
UTC = dt.timezone.utc
SECRET = "s3cr3t-Pa55"




def events(calls: Path, event: str, app: str) -> list[str]:
    return [detail for kind, name, detail, *_ in read_calls(calls) if kind == event and name == app]


def started(calls: Path, app: str, times: int = 1) -> bool:
    return len(events(calls, "start", app)) >= times


def finish(process) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def take_and_release(ledger, name: str) -> bool:
    """True once ``name``'s lock could be taken (it is released again at once)."""
    lock = ledger.try_lock(name)
    if lock is None:
        return False
    lock.release()
    return True


def test_sigkill_mid_job_frees_the_lock_and_the_next_run_retries_at_once(tmp_path, store_url):
    calls, release = tmp_path / "calls.jsonl", tmp_path / "release"
    ini = write_ini(tmp_path, store_url, [f"{J}Blocker|1d"])
    first = crontabber(ini, calls=calls, release=release)
    ledger = open_ledger(store_url)
    try:
        assert wait_for(lambda: started(calls, "blocker")), finish(first)
        assert ledger.try_lock("blocker") is None  # held by the running runner
        first.kill()
        first.communicate()
        row = ledger.load(["blocker"])["blocker"]
        assert row.ongoing is not None and row.last_success is None  # still visible as running
        assert wait_for(lambda: take_and_release(ledger, "blocker"), limit=10)  # freed, no 12 h wait
        release.touch()
        assert finish(crontabber(ini, calls=calls, release=release))[0] == 0
        row = ledger.load(["blocker"])["blocker"]
        assert row.ongoing is None and row.last_success is not None and row.error_count == 0
        assert len(events(calls, "start", "blocker")) == 2 and len(events(calls, "done", "blocker")) == 1
        # the killed run is recorded by the tick that found it unfinished, then the rerun
        assert [entry.outcome for entry in ledger.logs("blocker")] == [Outcome.SUCCEEDED, Outcome.INTERRUPTED]
    finally:
        first.kill()
        ledger.close()


def test_sigkill_mid_backfill_resumes_at_the_first_date_not_recorded(tmp_path, store_url):
    calls, release = tmp_path / "calls.jsonl", tmp_path / "release"
    ini = write_ini(tmp_path, store_url, [f"{J}SlowBackfill|1d"])
    last = dt.datetime.now(UTC) - dt.timedelta(days=5, hours=1)
    ledger = open_ledger(store_url)
    ledger.save(JobState("slow-backfill", next_run=last + dt.timedelta(days=1), first_run=last,
                         last_run=last, last_success=last))
    first = crontabber(ini, calls=calls, release=release)
    try:
        # the third date has started, so the first two are recorded: kill it there
        assert wait_for(lambda: started(calls, "slow-backfill", 3)), finish(first)
        first.kill()
        first.communicate()
        done_before = events(calls, "done", "slow-backfill")
        assert len(done_before) == 2
        row = ledger.load(["slow-backfill"])["slow-backfill"]
        assert row.last_success.date().isoformat() == done_before[-1] and row.ongoing is not None
        assert len(ledger.logs("slow-backfill")) == 2

        release.touch()
        assert finish(crontabber(ini, calls=calls, release=release))[0] == 0
        days = [(last + dt.timedelta(days=n)).date().isoformat() for n in range(1, 6)]
        assert events(calls, "done", "slow-backfill") == days  # each date once, in order
        assert Counter(events(calls, "start", "slow-backfill"))[days[2]] == 2  # only the killed one again
        row = ledger.load(["slow-backfill"])["slow-backfill"]
        assert row.ongoing is None and row.last_success.date().isoformat() == days[-1]
        outcomes = [entry.outcome for entry in ledger.logs("slow-backfill", limit=20)]
        assert outcomes.count(Outcome.SUCCEEDED) == 5 and outcomes.count(Outcome.INTERRUPTED) == 1
    finally:
        first.kill()
        ledger.close()


@pytest.fixture(scope="module")
def cluster():
    """A private PostgreSQL cluster (never the shared server) that the test may restart."""
    private = PrivateCluster()
    try:
        private.initdb()
        private.start()
        yield private
    finally:
        private.remove()


def test_server_restart_mid_tick_exits_3_keeps_finished_work_and_the_next_tick_carries_on(tmp_path, cluster):
    execute(cluster.url, "CREATE DATABASE ledger")
    url = with_database(cluster.url, "ledger").replace("postgres@", f"postgres:{SECRET}@")
    calls, release = tmp_path / "calls.jsonl", tmp_path / "release"
    ini = write_ini(tmp_path, url, [f"{J}Quick|1d", f"{J}Blocker|1d", f"{J}After|1d"])
    runner = crontabber(ini, calls=calls, release=release)
    try:
        assert wait_for(lambda: started(calls, "blocker")), finish(runner)
        cluster.restart()
        release.touch()  # the job finishes; recording it needs the session that is gone
        code, out, err = finish(runner)
    finally:
        runner.kill()
    assert code == 3, err
    assert len(err.splitlines()) == 1 and out == ""
    assert f"127.0.0.1:{cluster.port}/ledger: connection lost" in err and SECRET not in err
    assert "Traceback" not in err

    ledger = open_ledger(url)
    try:
        rows = ledger.load_all()
        assert rows["a-quick"].last_success is not None  # finished before the fault: recorded
        assert rows["blocker"].ongoing is not None and rows["blocker"].last_success is None
        assert "z-after" not in rows
        release.touch()
        assert finish(crontabber(ini, calls=calls, release=release))[0] == 0
        rows = ledger.load_all()
        assert all(row.last_success is not None and row.ongoing is None for row in rows.values())
        assert set(rows) == {"a-quick", "blocker", "z-after"}
        assert len(events(calls, "done", "a-quick")) == 1  # not repeated
        assert len(events(calls, "done", "z-after")) == 1
    finally:
        ledger.close()


def test_terminated_session_frees_the_lock_at_once_and_stops_the_runner(tmp_path):
    with temp_database() as url:
        calls, release = tmp_path / "calls.jsonl", tmp_path / "release"
        ini = write_ini(tmp_path, url, [f"{J}Blocker|1d", f"{J}After|1d"])
        runner = crontabber(ini, calls=calls, release=release)
        ledger = open_ledger(url, application_name="crontabber-tests")  # not terminated below
        try:
            assert wait_for(lambda: started(calls, "blocker")), finish(runner)
            dbname = url.rsplit("/", 1)[1]
            killed = execute(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = %s AND application_name LIKE 'crontabber %%' "
                                  "AND pid <> pg_backend_pid()", (dbname,))
            assert killed
            # the runner still runs its job, but its lock died with its session
            assert wait_for(lambda: take_and_release(ledger, "blocker"), limit=10)
            release.touch()
            code, out, err = finish(runner)
            assert code == 3 and len(err.splitlines()) == 1
            assert f"/{dbname}: connection lost" in err
            assert ledger.load(["blocker"])["blocker"].last_success is None
            assert finish(crontabber(ini, calls=calls, release=release))[0] == 0
            rows = ledger.load_all()
            assert rows["blocker"].last_success is not None and rows["z-after"].last_success is not None
        finally:
            runner.kill()
            ledger.close()


def test_connection_refused_exits_3_with_one_line_naming_the_server(tmp_path):
    port = free_port()
    ini = write_ini(tmp_path, f"postgresql://crontab:{SECRET}@127.0.0.1:{port}/ledger", [f"{J}Quick|1d"])
    for args in ([], ["list"], ["--job", "a-quick", "--force"]):
        code, out, err = finish(crontabber(ini, *args))
        assert code == 3, (args, err)
        assert err.splitlines() == [err.strip()]
        assert f"127.0.0.1:{port}/ledger" in err and "refused" in err
        assert SECRET not in out + err
    code, out, err = finish(crontabber(ini, "nagios"))
    assert code == 3 and out.startswith("UNKNOWN") and len(out.splitlines()) == 1
    assert f"127.0.0.1:{port}/ledger" in out and SECRET not in out + err


def test_a_lost_session_stops_the_running_job_at_once_and_exits_3(tmp_path, cluster):
    """A server restart takes the runner's session and its locks: the job it runs must stop
    at once (another runner may take it now), not when it would have finished."""
    import signal
    import uuid

    from tests.proc_support import finish as finish_run
    from tests.proc_support import start, tagged

    execute(cluster.url, "CREATE DATABASE lost")
    url = with_database(cluster.url, "lost")
    ini = tmp_path / "crontabber.ini"
    ini.write_text(f"""[crontabber]
database_url = {url}
jobs = job:long|1d
[[job-long]]
command = sh -c 'sleep 120 & sleep 120'
""")
    tag = uuid.uuid4().hex
    runner = start(ini, tag=tag)
    try:
        assert wait_for(lambda: len(tagged([tag], exclude=[runner.pid])) >= 3, limit=30), finish_run(runner, 5)
        cluster.restart()
        code, out, err = finish_run(runner, 30)
        assert code == 3 and err.splitlines() == [err.strip()] and "connection lost" in err, err
        assert not tagged([tag])  # the job and its grandchild are gone with the lock
        ledger = open_ledger(url)
        assert ledger.load(["long"])["long"].ongoing is not None  # recorded by the next tick
        ledger.close()
    finally:
        if runner.poll() is None:
            runner.send_signal(signal.SIGKILL)
            runner.communicate()
