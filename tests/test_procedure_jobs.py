"""Stored-procedure jobs (design §7) against the real test PostgreSQL, each test in its own schema."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import psycopg2
import pytest

from crontabber.cli import configtest
from crontabber.errors import ConfigError
from crontabber.legacy.procedure import ProcedureJob, parse_name
from crontabber.outcomes import Outcome

DSN = os.environ.get("CRONTABBER_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/test")
UTC = dt.timezone.utc


class Schema:
    """A throwaway schema on the test server, with helpers to run and query SQL in it."""

    def __init__(self) -> None:
        self.name = f"proc_{uuid.uuid4().hex[:10]}"
        self.conn = psycopg2.connect(DSN, connect_timeout=10)  # no server: the test fails
        self.conn.autocommit = True
        self.execute(f"CREATE SCHEMA {self.name}")

    def execute(self, statement: str) -> None:
        with self.conn.cursor() as cursor:
            cursor.execute(statement.replace("S.", f"{self.name}."))

    def rows(self, query: str) -> list[tuple]:
        with self.conn.cursor() as cursor:
            cursor.execute(query.replace("S.", f"{self.name}."))
            return cursor.fetchall()

    def drop(self) -> None:
        self.execute(f"DROP SCHEMA {self.name} CASCADE")
        self.conn.close()


@pytest.fixture
def schema():
    created = Schema()
    created.execute("CREATE TABLE S.marks (note text, at timestamptz DEFAULT now())")
    yield created
    created.drop()


def configure(harness, schema, procedure: str, schedule: str = "1h", name: str = "proc", **section: str):
    section = {"procedure": procedure.replace("S.", f"{schema.name}."), "database_url": DSN, **section}
    return harness.configure(f"job:{name}|{schedule}", sections={f"job-{name}": section})


def test_function_commits_and_keeps_notices(harness, schema):
    schema.execute("""CREATE FUNCTION S.mark() RETURNS integer LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO S.marks (note) VALUES ('function ran'); RAISE NOTICE 'refreshed 3 rows';
        RETURN 3; END $$""")
    configure(harness, schema, "S.mark")
    assert harness.settings.job("proc").kind == "procedure"
    assert harness.run_job("proc", force=True).outcome is Outcome.SUCCEEDED
    assert schema.rows("SELECT note FROM S.marks") == [("function ran",)]
    assert "refreshed 3 rows" in harness.logs("proc")[0].output


def test_procedure_is_called_with_call_and_commits(harness, schema):
    schema.execute("""CREATE PROCEDURE S.refresh() LANGUAGE sql AS $$
        INSERT INTO S.marks (note) VALUES ('procedure ran') $$""")
    configure(harness, schema, "S.refresh")
    assert harness.run_job("proc", force=True).outcome is Outcome.SUCCEEDED
    assert schema.rows("SELECT note FROM S.marks") == [("procedure ran",)]


def test_error_rolls_back_and_becomes_the_job_error(harness, schema):
    schema.execute("""CREATE PROCEDURE S.refresh() LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO S.marks (note) VALUES ('half done');
        RAISE EXCEPTION 'materialized view is locked by %', 'vacuum'; END $$""")
    configure(harness, schema, "S.refresh")
    result = harness.run_job("proc", force=True)
    assert result.outcome is Outcome.FAILED
    entry = harness.logs("proc")[0]
    assert entry.exc_type == "<class 'crontabber.legacy.procedure.ProcedureError'>"  # 0.18.1's text
    assert "materialized view is locked by vacuum" in entry.exc_value
    assert schema.rows("SELECT count(*) FROM S.marks") == [(0,)]
    assert "locked by vacuum" in harness.state("proc").last_error["value"]


def test_backfill_procedure_receives_each_missed_date(harness, schema):
    schema.execute("CREATE TABLE S.days (day date PRIMARY KEY)")
    schema.execute("""CREATE FUNCTION S.load_day(day date) RETURNS void LANGUAGE sql AS $$
        INSERT INTO S.days VALUES (day) $$""")
    configure(harness, schema, "S.load_day", schedule="1d|03:00", pass_date="true")
    assert harness.settings.job("proc").is_backfill
    assert harness.tick()["proc"].outcome is Outcome.SUCCEEDED  # 2026-01-05 12:00: first run
    harness.clock.advance(days=3)
    result = harness.tick()["proc"]
    assert result.outcome is Outcome.SUCCEEDED
    assert [when.date() for when in result.dates] == [dt.date(2026, 1, d) for d in (6, 7, 8)]
    days = [row[0] for row in schema.rows("SELECT day FROM S.days ORDER BY day")]
    assert days == [dt.date(2026, 1, d) for d in (5, 6, 7, 8)]
    assert len([e for e in harness.logs("proc") if e.outcome is Outcome.SUCCEEDED]) == 4


def test_backfill_stops_at_the_failing_date_and_keeps_the_ones_before(harness, schema):
    schema.execute("CREATE TABLE S.seen (at timestamptz)")
    schema.execute("""CREATE FUNCTION S.load(at timestamptz) RETURNS void LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO S.seen VALUES (at);
        IF at::date = '2026-01-07' THEN RAISE EXCEPTION 'no data for %', at::date; END IF; END $$""")
    configure(harness, schema, "S.load", schedule="1d|03:00", pass_date="yes")
    harness.tick()
    harness.clock.advance(days=3)
    result = harness.tick()["proc"]
    assert result.outcome is Outcome.FAILED and "no data for 2026-01-07" in result.reason
    seen = [row[0] for row in schema.rows("SELECT at FROM S.seen ORDER BY at")]
    assert seen == [dt.datetime(2026, 1, 5, 12, tzinfo=UTC), dt.datetime(2026, 1, 6, 3, tzinfo=UTC)]
    assert harness.state("proc").last_success == dt.datetime(2026, 1, 6, 3, tzinfo=UTC)


def test_timeout_cancels_the_statement_and_is_recorded_as_timed_out(harness, schema):
    schema.execute("""CREATE FUNCTION S.slow() RETURNS void LANGUAGE sql AS $$
        INSERT INTO S.marks (note) VALUES ('slow'); SELECT pg_sleep(30) $$""")
    configure(harness, schema, "S.slow", timeout="1")
    result = harness.run_job("proc", force=True)
    assert result.outcome is Outcome.TIMED_OUT
    assert "timeout" in harness.logs("proc")[0].exc_value
    assert schema.rows("SELECT count(*) FROM S.marks") == [(0,)]


def test_quoted_and_hostile_names_are_identifiers_never_sql(harness, schema):
    schema.execute(f'CREATE SCHEMA "{schema.name} Odd"')
    try:
        schema.execute(f"""CREATE FUNCTION "{schema.name} Odd"."Mark It"() RETURNS void LANGUAGE sql AS $$
            INSERT INTO S.marks (note) VALUES ('quoted') $$""")
        configure(harness, schema, f"""'''"{schema.name} Odd"."Mark It"'''""")
        assert harness.run_job("proc", force=True).outcome is Outcome.SUCCEEDED
        hostile = '"x""); DROP TABLE S.marks; --"'
        configure(harness, schema, f"'''S.{hostile}'''", name="evil")
        result = harness.run_job("evil", force=True)
        assert result.outcome is Outcome.FAILED and "no function or procedure" in result.reason
        assert schema.rows("SELECT note FROM S.marks") == [("quoted",)]
    finally:
        schema.execute(f'DROP SCHEMA "{schema.name} Odd" CASCADE')


@pytest.mark.parametrize("name", ["mark(); DROP TABLE x", "a.b.c", "refresh now", "`x`", "$(touch y)", ""])
def test_malformed_names_are_config_errors(harness, schema, name):
    with pytest.raises(ConfigError):
        configure(harness, schema, name)


def test_missing_function_and_wrong_arity_say_so(harness, schema):
    schema.execute("CREATE FUNCTION S.needs_arg(d date) RETURNS void LANGUAGE sql AS $$ SELECT 1 $$")
    configure(harness, schema, "S.needs_arg")
    result = harness.run_job("proc", force=True)
    assert result.outcome is Outcome.FAILED and "taking no arguments" in result.reason
    configure(harness, schema, "S.nothing_here")
    assert "no function or procedure" in harness.run_job("proc", force=True).reason


def test_database_url_defaults_to_a_postgres_ledger_and_is_required_otherwise(harness, schema):
    harness.configure("job:proc|1h", sections={"job-proc": {"procedure": "now"}})
    faults = configtest.problems(harness.settings)
    assert any("needs database_url" in fault for fault in faults)
    result = harness.run_job("proc", force=True)
    assert result.outcome is Outcome.FAILED and "needs database_url" in result.reason
    # With a PostgreSQL ledger URL the job uses it (the job is driven directly here).
    schema.execute("CREATE FUNCTION S.mark() RETURNS void LANGUAGE sql AS $$ "
                   "INSERT INTO S.marks (note) VALUES ('default url') $$")
    job = type("DirectJob", (ProcedureJob,), {"app_name": "direct"})({"procedure": f"{schema.name}.mark"}, None)
    job.crontabber_database_url = DSN
    job.run()
    assert schema.rows("SELECT note FROM S.marks") == [("default url",)]
    with pytest.raises(ConfigError):
        configure(harness, schema, "S.mark", database_url="mysql://x")


def test_parse_name():
    assert parse_name("Refresh") == (None, "refresh")
    assert parse_name('app."Refresh Views"') == ("app", "Refresh Views")
    assert parse_name('"a""b".c') == ('a"b', "c")


def test_configtest_verbose_shows_the_procedure_and_a_redacted_url(harness):
    import io

    settings = harness.configure("job:proc|1h", sections={"job-proc": {
        "procedure": "app.refresh", "database_url": "postgresql://app:hunter2@db.internal/app", "pass_date": "on"}})
    out = io.StringIO()
    assert configtest.report(settings, out, verbose=True) == 0
    text = out.getvalue()
    assert "app.refresh" in text and "db.internal/app" in text and "hunter2" not in text
    assert "pass_date              yes" in text
