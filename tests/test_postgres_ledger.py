"""The PostgreSQL store on the real server: 0.18.1's schema, adopting a 0.18.1 database in
place, legacy connection options, passwords kept out of every output, statements per run."""

from __future__ import annotations

import datetime as dt
import io
import json
from urllib.parse import quote

import psycopg2
import pytest

from crontabber.cli.main import main
from crontabber.clock import FrozenClock
from crontabber.config.settings import load_settings
from crontabber.errors import ConfigError, LedgerError
from crontabber.outcomes import Outcome
from crontabber.runner import Runner
from crontabber.state import open_ledger
from crontabber.state.postgres import lock_key
from crontabber.testing import DEFAULT_START, Harness
from tests.pg_support import TEST_DSN, execute, temp_database, write_ini

UTC = dt.timezone.utc
J = "tests.jobs_for_tests."
SECRET = "s3cr3t/P@ss:w0rd"
NOW = DEFAULT_START  # 2026-01-05 12:00 UTC

# crontabber 0.18.1's DDL, verbatim (app.py)
DDL_0_18_1 = (
    """CREATE TABLE crontabber (
        app_name text NOT NULL,
        next_run timestamp with time zone,
        first_run timestamp with time zone,
        last_run timestamp with time zone,
        last_success timestamp with time zone,
        ongoing timestamp with time zone,
        error_count integer DEFAULT 0,
        depends_on text[],
        last_error json
    );""",
    """CREATE UNIQUE INDEX crontabber_unique_app_name_idx
    ON crontabber (app_name);""",
    """CREATE TABLE crontabber_log (
        id SERIAL NOT NULL,
        app_name text NOT NULL,
        log_time timestamp with time zone DEFAULT now() NOT NULL,
        duration interval,
        success timestamp with time zone,
        exc_type text,
        exc_value text,
        exc_traceback text
    );""",
)
# 0.18.1's own read of the table (JobStateDatabase.copy)
SELECT_0_18_1 = """SELECT app_name, next_run, first_run, last_run, last_success, depends_on,
    error_count, last_error, ongoing FROM crontabber"""


def hours(n: float) -> dt.timedelta:
    return dt.timedelta(hours=n)


def seed_0_18_1(url: str, with_ongoing: bool = True) -> None:
    """A database as crontabber 0.18.1 (or, without ``ongoing``/the index, an older one) left it."""
    ddl = list(DDL_0_18_1)
    if not with_ongoing:
        ddl[0] = ddl[0].replace("ongoing timestamp with time zone,", "")
        del ddl[1]
    for statement in ddl:
        execute(url, statement)
    rows = [  # app_name, next_run, first_run, last_run, last_success, error_count, depends_on, last_error
        ("foo", NOW + hours(2), NOW - dt.timedelta(days=30), NOW - hours(22), NOW - hours(22), 0, [], {}),
        ("bar", NOW + hours(2), NOW - dt.timedelta(days=30), NOW - hours(22), NOW - hours(22), 0, ["foo"], {}),
        ("backfill", NOW - dt.timedelta(days=2), NOW - dt.timedelta(days=30), NOW - dt.timedelta(days=3),
         NOW - dt.timedelta(days=3), 0, [], {}),
        ("broken", NOW - hours(1), NOW - dt.timedelta(days=30), NOW - hours(2), NOW - dt.timedelta(days=9), 2,
         [], {"type": "ValueError", "value": "broken on purpose", "traceback": "Traceback ..."}),
        ("retired-job", NOW - dt.timedelta(days=99), NOW - dt.timedelta(days=400), NOW - dt.timedelta(days=100),
         NOW - dt.timedelta(days=100), 0, [], {}),
    ]
    for name, next_run, first_run, last_run, last_success, errors, depends_on, last_error in rows:
        execute(url, "INSERT INTO crontabber (app_name, next_run, first_run, last_run, last_success, "
                     "error_count, depends_on, last_error) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (name, next_run, first_run, last_run, last_success, errors, depends_on, json.dumps(last_error)))
    for name, success in (("foo", NOW - hours(22)), ("broken", None), ("retired-job", NOW - dt.timedelta(days=100))):
        execute(url, "INSERT INTO crontabber_log (app_name, log_time, duration, success, exc_type) "
                     "VALUES (%s, %s, %s, %s, %s)",
                (name, NOW - hours(22), dt.timedelta(seconds=3), success, None if success else "ValueError"))


@pytest.fixture
def pg_url():
    with temp_database() as url:
        yield url


def columns(url: str, table: str) -> dict[str, str]:
    return dict(execute(url, "SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = %s", (table,)))


def test_a_new_database_gets_0_18_1_tables_plus_our_columns(pg_url):
    open_ledger(pg_url).close()
    assert columns(pg_url, "crontabber") == {
        "app_name": "text", "next_run": "timestamp with time zone", "first_run": "timestamp with time zone",
        "last_run": "timestamp with time zone", "last_success": "timestamp with time zone",
        "ongoing": "timestamp with time zone", "error_count": "integer", "depends_on": "ARRAY",
        "last_error": "json", "skip_reason": "text"}
    assert columns(pg_url, "crontabber_log") == {
        "id": "integer", "app_name": "text", "log_time": "timestamp with time zone", "duration": "interval",
        "success": "timestamp with time zone", "exc_type": "text", "exc_value": "text",
        "exc_traceback": "text", "outcome": "text", "output": "text"}
    [(definition,)] = execute(pg_url, "SELECT indexdef FROM pg_indexes "
                                      "WHERE indexname = 'crontabber_unique_app_name_idx'")
    assert definition.startswith("CREATE UNIQUE INDEX") and definition.endswith("(app_name)")


@pytest.mark.parametrize("with_ongoing", [True, False], ids=["0.18.1", "older-without-ongoing"])
def test_a_0_18_1_database_is_adopted_in_place(pg_url, tmp_path, calls, with_ongoing):
    seed_0_18_1(pg_url, with_ongoing)
    harness = Harness(tmp_path, FrozenClock(NOW), database_url=pg_url)
    try:
        harness.configure([f"{J}FooJob|1d", f"{J}BarJob|1d", f"{J}BackfillJob|1d", f"{J}BrokenJob|1d"])
        first = harness.tick()
        # succeeded 22 h ago on a daily schedule: not re-run early...
        assert first["foo"].outcome is Outcome.NOT_DUE and first["bar"].outcome is Outcome.NOT_DUE
        # ...the backfill job continues from its last success, one run per missed day...
        assert [d.date().isoformat() for d in first["backfill"].dates] == ["2026-01-03", "2026-01-04"]
        # ...and the failing job keeps counting its errors
        assert first["broken"].outcome is Outcome.FAILED
        assert harness.state("broken").error_count == 3
        harness.clock.advance(hours=2)
        second = harness.tick()  # ...nor forgotten: due again 24 h after its last run
        assert second["foo"].outcome is Outcome.SUCCEEDED and second["bar"].outcome is Outcome.SUCCEEDED
        assert [c for c in calls if c[0] != "broken"] == [
            ("backfill", "2026-01-03T12:00:00+00:00"), ("backfill", "2026-01-04T12:00:00+00:00"),
            ("foo",), ("bar",)]
        assert harness.state("backfill").last_success == dt.datetime(2026, 1, 4, 12, tzinfo=UTC)
        assert harness.state("retired-job").last_success == NOW - dt.timedelta(days=100)  # never dropped
        assert [entry.outcome for entry in harness.logs("foo")] == [Outcome.SUCCEEDED, Outcome.SUCCEEDED]
    finally:
        harness.close()
    # the table still reads the way crontabber 0.18.1 reads it
    rows = {row[0]: row for row in execute(pg_url, SELECT_0_18_1)}
    assert set(rows) == {"foo", "bar", "backfill", "broken", "retired-job"}
    assert rows["bar"][5] == ["foo"] and rows["foo"][7] == {} and rows["foo"][8] is None
    assert rows["broken"][7]["type"] == "<class 'ValueError'>" and rows["broken"][6] == 4  # failed in both ticks
    [(old_logs,)] = execute(pg_url, "SELECT count(*) FROM crontabber_log WHERE outcome IS NULL")
    assert old_logs == 3  # 0.18.1's own log rows are kept as they were


def test_adoption_refuses_duplicate_rows_and_changes_nothing(pg_url):
    seed_0_18_1(pg_url, with_ongoing=False)  # no unique index before 0.18.1
    execute(pg_url, "INSERT INTO crontabber (app_name) VALUES ('foo')")
    with pytest.raises(LedgerError, match="several rows for one app_name"):
        open_ledger(pg_url)
    assert "ongoing" not in columns(pg_url, "crontabber")
    assert execute(pg_url, "SELECT count(*) FROM crontabber WHERE app_name = 'foo'") == [(2,)]


def test_opening_a_complete_database_runs_no_ddl(pg_url):
    open_ledger(pg_url).close()
    execute(pg_url, "CREATE TABLE ddl_seen (tag text)")
    execute(pg_url, "CREATE FUNCTION note_ddl() RETURNS event_trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN INSERT INTO ddl_seen VALUES (tg_tag); END $$")
    execute(pg_url, "CREATE EVENT TRIGGER watch ON ddl_command_start EXECUTE FUNCTION note_ddl()")
    open_ledger(pg_url).close()
    assert execute(pg_url, "SELECT tag FROM ddl_seen") == []


class CountingCursor(psycopg2.extensions.cursor):
    """A real cursor that counts the statements it sends."""

    sent: list[str] = []

    def execute(self, query, vars=None):
        CountingCursor.sent.append(" ".join(str(query).split())[:200])
        return super().execute(query, vars)


class CountingConnection(psycopg2.extensions.connection):
    def cursor(self, *args, **kwargs):
        kwargs.setdefault("cursor_factory", CountingCursor)
        return super().cursor(*args, **kwargs)


def statements_of(runner: Runner, action) -> list[str]:
    CountingCursor.sent = []
    action(runner)
    return list(CountingCursor.sent)


def test_a_job_run_costs_two_round_trips(pg_url, tmp_path):
    harness = Harness(tmp_path, FrozenClock(NOW), database_url=pg_url)
    settings = harness.configure([f"{J}FooJob|1h", f"{J}BrokenJob|1h", f"{J}BackfillJob|1d"])
    ledger = open_ledger(pg_url, connection_factory=CountingConnection)
    try:
        runner = Runner(settings, ledger, harness.clock)
        sent = statements_of(runner, lambda r: r.tick())
        # one read of the whole ledger, then per job: the claim (lock; then re-read its row and
        # its parents' rows and mark it ongoing) and the final row (with a plain job's log row)
        # committed and unlocked in one round trip; a backfill job writes each completed date
        # with its log row before its final row (backfill: 3; foo, broken: 2 each); last, the
        # runner's heartbeat
        assert len(sent) == 1 + 3 + 2 + 2 + 1, sent
        assert "; INSERT INTO crontabber_heartbeat " in sent[-1]
        claim, date, final = sent[1:4]  # BackfillJob sorts first
        assert sent[0].startswith("SELECT app_name") and "pg_try_advisory_lock" in claim
        assert date.startswith("WITH saved AS") and final.startswith("BEGIN; INSERT INTO crontabber ")
        # nothing due: the read and the heartbeat
        assert statements_of(runner, lambda r: r.tick()) == [sent[0], sent[-1]]
        harness.clock.advance(hours=1)
        # --job reads its rows once more before claiming
        assert len(statements_of(runner, lambda r: r.run_job("foo"))) == 1 + 2
        harness.clock.advance(days=3)
        backfill = statements_of(runner, lambda r: r.run_job("backfill"))
        assert len(backfill) == 1 + 2 + 3  # one more round trip per completed date
    finally:
        ledger.close()
        harness.close()


def test_a_claim_marks_the_row_ongoing_and_a_final_write_unlocks(pg_url):
    """The claim's lock is held until the final write commits; the mark is visible meanwhile."""
    ledger, other = open_ledger(pg_url), open_ledger(pg_url)
    try:
        assert ledger.claim("job", ["job", "parent"], NOW, ["parent"]).states == {}
        assert other.claim("job", ["job"], NOW, []) is None  # held by the first session
        row = other.load(["job"])["job"]
        assert (row.ongoing, row.depends_on, row.last_run) == (NOW, ("parent",), None)
        claim = ledger.claim("other-job", ["other-job"], NOW, [])
        ledger.save(row.but(ongoing=None, last_run=NOW), release=claim.lock)
        assert other.claim("other-job", ["other-job"], NOW, []) is not None  # released with the write
        assert other.claim("job", ["job"], NOW, []) is None  # "job" is still held
    finally:
        ledger.close()
        other.close()


def legacy_ini(tmp_path, port: str = "5432", dbname: str = "test") -> str:
    host = TEST_DSN.split("@", 1)[1].split(":", 1)[0]
    ini = tmp_path / "crontabber.ini"
    ini.write_text(f"""[crontabber]
jobs = '''
    {J}FooJob|1h
    {J}BrokenJob|1h
'''
[resource]
    [[postgresql]]
    host = {host}
    port = {port}
    dbname = {dbname}
    user = postgres
    password = {SECRET}
""")
    return str(ini)


def cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue() + err.getvalue()


def test_legacy_options_reach_the_server_and_the_password_appears_nowhere(pg_url, tmp_path):
    dbname = pg_url.rsplit("/", 1)[1]
    ini = legacy_ini(tmp_path, dbname=dbname)
    settings = load_settings(ini, {}, {})
    assert settings.database_url.endswith(f":5432/{dbname}") and "s3cr3t%2FP%40ss%3Aw0rd@" in settings.database_url
    outputs = {}
    for argv in (["run"], ["run", "--debug"], ["list"], ["list", "--format", "json"], ["--list-jobs"],
                 ["configtest"], ["configtest", "--verbose"], ["nagios"], ["--nagios"],
                 ["run", "--job", "broken", "--force", "--debug"]):
        outputs[" ".join(argv)] = cli(*argv, f"--admin.conf={ini}")
    assert outputs["run"][0] == 0 and outputs["list"][0] == 0 and outputs["configtest --verbose"][0] == 0
    assert outputs["nagios"][0] == 2  # broken failed: CRITICAL
    assert f":5432/{dbname}" in outputs["list"][1] and f":5432/{dbname}" in outputs["configtest --verbose"][1]
    for argv, (_, text) in outputs.items():
        assert SECRET not in text and "s3cr3t" not in text, argv
    ledger = open_ledger(pg_url)
    assert ledger.load_all().keys() == {"foo", "broken"}
    ledger.close()


def test_ledger_errors_never_show_the_password(tmp_path):
    ini = legacy_ini(tmp_path, port="1")  # nothing listens there
    for argv in (["run"], ["run", "--debug"], ["list"], ["nagios"], ["reset", "foo"], ["audit-ghosts"]):
        code, text = cli(*argv, f"--admin.conf={ini}")
        assert code == 3 and ":1/test" in text, (argv, text)
        assert "s3cr3t" not in text, argv
    with pytest.raises(LedgerError) as caught:
        open_ledger(f"postgresql://postgres:{quote(SECRET, safe='')}@127.0.0.1:1/test")
    assert "s3cr3t" not in str(caught.value) and "127.0.0.1:1/test" in str(caught.value)


@pytest.mark.parametrize("host,expected", [
    ("/var/run/postgresql", "postgresql://postgres:***@%2Fvar%2Frun%2Fpostgresql:5432/test"),
    ("::1", "postgresql://postgres:***@[::1]:5432/test"),
])
def test_legacy_socket_and_ipv6_hosts_make_valid_urls(tmp_path, host, expected):
    from crontabber.state import redact_url
    from crontabber.state.postgres import PostgresLedger

    ini = legacy_ini(tmp_path)
    (tmp_path / "crontabber.ini").write_text(open(ini).read().replace(TEST_DSN.split("@", 1)[1].split(":")[0], host))
    url = load_settings(ini, {}, {}).database_url
    assert redact_url(url) == expected
    ledger = PostgresLedger(url, psycopg2.extensions.parse_dsn(url), {})
    assert ledger.description == f"PostgreSQL ledger {host}:5432/test"


def test_a_bad_url_is_a_configuration_error():
    with pytest.raises(ConfigError, match="not a valid PostgreSQL URL"):
        open_ledger("postgresql://u:secret@host/db?nonsense=1")
    with pytest.raises(ConfigError, match="port"):
        open_ledger("postgresql://u:secret@host:notaport/db")


def test_lock_keys_are_stable_and_distinct():
    assert lock_key("foo") == lock_key("foo") == -2469389065125909512
    assert len({lock_key(f"job-{n}") for n in range(10000)}) == 10000


def test_jobs_forked_for_a_timeout_leave_the_runner_session_usable(pg_url, tmp_path, calls):
    """A Python job with a timeout runs in a forked child that inherits the connection's socket."""
    harness = Harness(tmp_path, FrozenClock(NOW), database_url=pg_url)
    try:
        harness.configure([f"{J}FooJob|1h", f"{J}BarJob|1h"], sections={"class-FooJob": {"timeout": "30"}})
        for _ in range(3):
            results = harness.tick()
            assert results["foo"].outcome is Outcome.SUCCEEDED and results["bar"].outcome is Outcome.SUCCEEDED
            harness.clock.advance(hours=1)
        assert len(harness.logs("foo")) == 3 and harness.state("bar").error_count == 0
    finally:
        harness.close()


def test_a_blocked_child_costs_one_statement_when_its_reason_changes(pg_url, tmp_path):
    settings = load_settings(write_ini(tmp_path, pg_url, [f"{J}BrokenJob|1h", f"{J}BrokenChildJob|1h"]), {}, {})
    ledger = open_ledger(pg_url, connection_factory=CountingConnection)
    try:
        runner = Runner(settings, ledger, FrozenClock(NOW))
        runner.run_job("broken")
        sent = statements_of(runner, lambda r: r.run_job("broken-child"))
        assert len(sent) == 1 + 1 and sent[-1].startswith("INSERT INTO crontabber ")  # no row yet
        assert ledger.load(["broken-child"])["broken-child"].skip_reason == "'broken' errored last time it ran"
        assert statements_of(runner, lambda r: r.run_job("broken-child")) == sent[:1]  # unchanged: no write
    finally:
        ledger.close()
