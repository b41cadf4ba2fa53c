"""The runner heartbeat (issue 13 item 4): its own table, one statement a tick, silent hosts in
``nagios``, ``forget-host``, and read-only ledgers that never write."""

import datetime as dt
import io

import pytest

from crontabber.cli import nagios
from crontabber.cli.main import main
from crontabber.clock import FrozenClock
from crontabber.errors import LedgerError
from crontabber.heartbeat import FLOOR_SECONDS, judge
from crontabber.runner import Runner
from crontabber.state import JobState, open_ledger
from crontabber.testing import DEFAULT_START, Harness

J = "tests.jobs_for_tests."
T0 = DEFAULT_START


def test_beats_keep_the_last_tick_and_the_longest_gap(store_url):
    ledger = open_ledger(store_url)
    try:
        assert ledger.runners() == []
        ledger.beat("web1", T0, 0.5)
        ledger.beat("web1", T0 + dt.timedelta(minutes=5), 0.25)
        ledger.beat("web1", T0 + dt.timedelta(minutes=25), 1.5)  # cron missed three runs
        ledger.beat("web1", T0 + dt.timedelta(minutes=30), 0.75)
        ledger.beat("web1", T0 + dt.timedelta(minutes=2), 9.0)  # a slow, older tick finishing late
        ledger.beat("db1", T0, 2.0)
        web1, = [beat for beat in ledger.runners() if beat.host == "web1"]
        assert web1.last_tick == T0 + dt.timedelta(minutes=30) and web1.last_duration == 0.75
        assert web1.longest_gap == pytest.approx(20 * 60, abs=0.01)
        assert web1.ticks == 5 and web1.first_tick == T0
        assert [beat.host for beat in ledger.runners()] == ["db1", "web1"]
        assert ledger.load_all() == {}  # never a row of `crontabber` (0.18.1 reads those as jobs)
        assert ledger.forget_runner("db1") and not ledger.forget_runner("db1")
        assert [beat.host for beat in ledger.runners()] == ["web1"]
    finally:
        ledger.close()


def test_silent_after_defaults_to_three_gaps_and_at_least_15_minutes(store_url):
    ledger = open_ledger(store_url)
    try:
        ledger.beat("fast", T0, 0.1)
        ledger.beat("fast", T0 + dt.timedelta(minutes=1), 0.1)
        ledger.beat("hourly", T0, 0.1)
        ledger.beat("hourly", T0 + dt.timedelta(hours=1), 0.1)
        beats = ledger.runners()
    finally:
        ledger.close()
    now = T0 + dt.timedelta(hours=1, minutes=20)
    fast, hourly = judge(beats, now, None)
    assert fast.silent_after == FLOOR_SECONDS and fast.silent  # quiet 79 minutes
    assert hourly.silent_after == 3 * 3600 and not hourly.silent
    assert [one.silent for one in judge(beats, now, 100 * 60)] == [False, False]  # configured wins


def test_a_tick_costs_one_heartbeat_statement_on_sqlite(tmp_path):
    import sqlite3

    harness = Harness(tmp_path, FrozenClock(T0))
    harness.configure(f"{J}FooJob|1h")
    harness.tick()
    statements = []
    harness.ledger._conn.set_trace_callback(statements.append)
    try:
        harness.clock.advance(minutes=5)
        harness.tick()  # idle: nothing due
    finally:
        harness.ledger._conn.set_trace_callback(None)
    writes = [s for s in statements if not s.startswith(("SELECT", "BEGIN", "COMMIT"))]
    assert len(writes) == 1 and writes[0].startswith("INSERT INTO crontabber_heartbeat"), statements
    raw = sqlite3.connect(tmp_path / "ledger.sqlite")
    assert raw.execute("SELECT ticks FROM crontabber_heartbeat").fetchall() == [(2,)]
    assert raw.execute("SELECT count(*) FROM crontabber").fetchone() == (1,)
    raw.close()
    harness.close()


def test_nagios_reports_a_runner_that_stopped(tmp_path):
    """Two hosts tick; one stops: WARNING. Both stop: CRITICAL. forget-host retires one."""
    harness = Harness(tmp_path, FrozenClock(dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)))
    harness.configure(f"{J}FooJob|5m", runner_silent_after="20m")
    for _ in range(6):
        Runner(harness.settings, harness.ledger, harness.clock, host="old-host").tick()
        harness.clock.advance(minutes=5)
    harness.clock.set(dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1))
    Runner(harness.settings, harness.ledger, harness.clock, host="live-host").tick()
    conf = f"--admin.conf={harness.ini_path}"

    def run_nagios():
        out = io.StringIO()
        code = main(["nagios", conf], out=out, err=io.StringIO())
        return code, out.getvalue().strip()

    code, line = run_nagios()
    assert code == nagios.WARNING, line
    assert "runner old-host silent for 1h" in line and "crontabber forget-host old-host" in line
    assert "live-host" not in line

    out, err = io.StringIO(), io.StringIO()
    assert main(["forget-host", "nowhere", conf], out=out, err=err) == 2
    assert "no runner host 'nowhere'" in err.getvalue() and "live-host, old-host" in err.getvalue()
    assert main(["forget-host", "old-host", conf], out=out, err=err) == 0
    assert run_nagios()[0] == nagios.OK

    harness.configure(f"{J}FooJob|5m", runner_silent_after="30s")  # now the live host is silent too
    code, line = run_nagios()
    assert code == nagios.CRITICAL and "runner live-host silent" in line, line
    harness.close()


def test_runner_silent_after_is_a_checked_duration(tmp_path):
    harness = Harness(tmp_path, FrozenClock(T0))
    assert harness.configure(f"{J}FooJob|5m", runner_silent_after="1h").runner_silent_after == 3600
    assert harness.configure(f"{J}FooJob|5m").runner_silent_after is None
    with pytest.raises(Exception, match="runner_silent_after"):
        harness.configure(f"{J}FooJob|5m", runner_silent_after="soon")


def test_the_host_name_can_be_pinned_for_containers(tmp_path, monkeypatch):
    monkeypatch.setenv("CRONTABBER_HOST", "jobs-cronjob")
    harness = Harness(tmp_path, FrozenClock(T0))
    harness.configure(f"{J}FooJob|5m")
    harness.tick()
    assert [beat.host for beat in harness.ledger.runners()] == ["jobs-cronjob"]
    harness.close()


def test_a_read_only_ledger_never_writes(store_url):
    ledger = open_ledger(store_url)
    ledger.save(JobState("foo", next_run=T0))
    ledger.close()
    reader = open_ledger(store_url, read_only=True)
    try:
        assert set(reader.load_all()) == {"foo"} and reader.runners() == []
        with pytest.raises(LedgerError):
            reader.save(JobState("bar"))
        with pytest.raises(LedgerError):
            reader.beat("host", T0, 1.0)
    finally:
        reader.close()


def test_a_read_only_view_of_an_old_ledger_creates_nothing(tmp_path):
    """A ledger written by an older version has no heartbeat table: reading it creates none."""
    import sqlite3

    path = tmp_path / "old.sqlite"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE crontabber (app_name TEXT PRIMARY KEY, next_run TEXT, first_run TEXT, "
                "last_run TEXT, last_success TEXT, ongoing TEXT, error_count INTEGER, depends_on TEXT, "
                "last_error TEXT, skip_reason TEXT)")
    raw.commit()
    reader = open_ledger(f"sqlite:///{path}", read_only=True)
    try:
        assert reader.load_all() == {} and reader.runners() == []
    finally:
        reader.close()
    tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    raw.close()
    assert tables == {"crontabber"}
    assert not (tmp_path / "old.sqlite.locks").exists()
