"""A 0.18.1 deployment as production code is written, run here and on crontabber 0.18.1 itself.

The job modules and the launcher in ``matview_deployment/`` are written the way a large 0.18.1
deployment wrote them (matview procedure jobs, a ``CronTabberBase`` launcher with a Python
jobs constant, run by ``generic_app.main``). Both implementations run the same ticks on
their own scratch PostgreSQL database with the clock wound by ``matview_deployment/wound_clock.py``;
after each tick the procedure calls, the ledger rows, the log rows, the exit code and the
Nagios verdict must be equal. 0.18.1 runs on Python 2.7 (``benchmarks/original.py`` installs
it into a cache the first time); without Python 2.7 the comparison says so and is skipped,
while our side is still checked against the calls the ticks must make.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.pg_support import REPO, execute, temp_database

DEPLOYMENT = Path(__file__).resolve().parent  # holds matview_deployment/, importable as a top-level package

SCHEMA = """
CREATE TABLE calls (seq serial PRIMARY KEY, proc text NOT NULL, args text NOT NULL);
CREATE SEQUENCE adu_attempts;
CREATE SEQUENCE duplicates_attempts;
CREATE FUNCTION record(proc text, args text) RETURNS void AS $$
    INSERT INTO calls (proc, args) VALUES (proc, args) $$ LANGUAGE sql;
CREATE FUNCTION update_product_versions() RETURNS boolean AS $$
    BEGIN PERFORM record('update_product_versions', ''); RETURN true; END $$ LANGUAGE plpgsql;
CREATE FUNCTION update_signatures(day date) RETURNS boolean AS $$
    BEGIN PERFORM record('update_signatures', day::text); RETURN true; END $$ LANGUAGE plpgsql;
CREATE FUNCTION update_adu(day date) RETURNS boolean AS $$
    BEGIN
        IF day = DATE '2026-03-02' AND nextval('adu_attempts') = 1 THEN
            RAISE EXCEPTION 'raw ADU for % is not loaded yet', day;
        END IF;
        PERFORM record('update_adu', day::text); RETURN true;
    END $$ LANGUAGE plpgsql;
CREATE FUNCTION update_tcbs(day date, check_period boolean) RETURNS boolean AS $$
    BEGIN PERFORM record('update_tcbs', day::text || ' ' || check_period::text); RETURN true; END $$
    LANGUAGE plpgsql;
CREATE FUNCTION update_reports_duplicates(start_time timestamptz, end_time timestamptz) RETURNS boolean AS $$
    BEGIN
        IF nextval('duplicates_attempts') = 3 THEN
            RAISE EXCEPTION 'reports table is being repacked';
        END IF;
        PERFORM record('update_reports_duplicates', to_char(start_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')
                       || ' ' || to_char(end_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'));
        RETURN true;
    END $$ LANGUAGE plpgsql;
"""
# (wound clock, extra flags): a failed ADU load and its retry, a three-day gap, a failed
# duplicates run and its retry, and one forced --job.
TICKS = (
    ("2026-03-02T03:05:00", ()), ("2026-03-02T03:30:00", ()), ("2026-03-03T03:05:00", ()),
    ("2026-03-03T03:11:00", ()), ("2026-03-06T03:05:00", ()), ("2026-03-06T04:10:00", ()),
    ("2026-03-06T04:20:00", ("--job", "product-versions-matview", "--force")),
)
# The calls each tick must commit, in order (our side is checked against these even without 0.18.1).
EXPECTED_CALLS = (
    ["update_reports_duplicates 2026-03-02 00:05 2026-03-02 01:05", "update_product_versions ",
     "update_adu 2026-03-01", "update_signatures 2026-03-01", "update_tcbs 2026-03-01 false"],
    [],
    ["update_reports_duplicates 2026-03-03 00:05 2026-03-03 01:05", "update_product_versions ",
     "update_signatures 2026-03-02"],
    ["update_adu 2026-03-02", "update_tcbs 2026-03-02 false"],
    ["update_product_versions "] + [f"update_adu 2026-03-0{day}" for day in (3, 4, 5)]
    + [f"update_signatures 2026-03-0{day}" for day in (3, 4, 5)]
    + [f"update_tcbs 2026-03-0{day} false" for day in (3, 4, 5)],
    ["update_reports_duplicates 2026-03-06 01:10 2026-03-06 02:10"],
    ["update_product_versions "],
)
EXPECTED_NAGIOS = ("OK", "OK", "WARNING", "OK", "CRITICAL", "OK", "OK")


@dataclass
class Tick:
    """What one tick left behind."""

    exit_code: int
    nagios: tuple[int, str]
    calls: list[str]
    rows: list[tuple]
    logs: list[tuple]


def _ini(folder: Path, url: str) -> Path:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    ini = folder / "crontabber.ini"
    ini.write_text(f"""[logging]
stderr_error_logging_level=50

[resource]
    [[postgresql]]
    host={parts.hostname}
    port={parts.port or 5432}
    dbname={parts.path.lstrip('/')}
    user={parts.username}
    password={parts.password or ''}
""")
    return ini


def _run(command: list[str], env: dict[str, str], when: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, env={**env, "CRONTABBER_FAKE_NOW": when}, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def _snapshot(url: str, seen: int) -> tuple[list[str], list[tuple], list[tuple]]:
    calls = [f"{proc} {args}" for proc, args in execute(url, "SELECT proc, args FROM calls ORDER BY seq")]
    rows = execute(url, """SELECT app_name, next_run, first_run, last_run, last_success, error_count, depends_on,
                                  last_error->>'type', last_error->>'value', ongoing
                           FROM crontabber ORDER BY app_name""")
    logs = [(app, success, exc_type, re.sub(r",\)$", ")", exc_value or "") or None)  # Python 2's repr: ('x',)
            for app, success, exc_type, exc_value in
            execute(url, "SELECT app_name, success, exc_type, exc_value FROM crontabber_log ORDER BY id")]
    return calls[seen:], rows, logs


def run_ticks(prefix: list[str], env: dict[str, str]) -> list[Tick]:
    """Every tick and a Nagios check after it, on a fresh database; what each left behind."""
    ticks: list[Tick] = []
    with temp_database() as url, tempfile.TemporaryDirectory() as folder:
        execute(url, SCHEMA, None)  # no parameters: RAISE uses %
        ini = _ini(Path(folder), url)
        seen = 0
        for when, flags in TICKS:
            run = _run([*prefix, f"--admin.conf={ini}", *flags], env, when, Path(folder))
            check = _run([*prefix, f"--admin.conf={ini}", "--nagios"], env, when, Path(folder))
            calls, rows, logs = _snapshot(url, seen)
            seen += len(calls)
            word = (check.stdout.split() or ["?"])[0]
            assert word in ("OK", "WARNING", "CRITICAL"), (when, check.stdout, check.stderr[-2000:])
            ticks.append(Tick(run.returncode, (check.returncode, word), calls, rows, logs))
    return ticks


@pytest.fixture(scope="module")
def ours() -> list[Tick]:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONPATH"] = os.pathsep.join([str(DEPLOYMENT), str(REPO)])
    return run_ticks([sys.executable, "-m", "matview_deployment.wound_clock"], env)


def test_the_deployment_runs_here_unchanged(ours):
    """The launcher, jobs and ini run here as written: every call commits, verdicts as expected."""
    assert [tick.calls for tick in ours] == [list(calls) for calls in EXPECTED_CALLS]
    assert [tick.exit_code for tick in ours] == [0] * len(TICKS)
    assert [tick.nagios[1] for tick in ours] == list(EXPECTED_NAGIOS)
    assert [tick.nagios[0] for tick in ours] == [{"OK": 0, "WARNING": 1, "CRITICAL": 2}[w] for w in EXPECTED_NAGIOS]
    failures = [log for log in ours[-1].logs if log[2]]
    assert [(app, exc_type) for app, _, exc_type, _ in failures] == [
        ("adu-matview", "<class 'psycopg2.errors.RaiseException'>"),
        ("duplicates", "<class 'psycopg2.errors.RaiseException'>")]


def test_the_same_ticks_on_crontabber_0_18_1_leave_the_same_ledger(ours):
    from benchmarks.original import locate

    original, where = locate()
    if original is None:
        pytest.skip(f"comparison with 0.18.1 not run: {where}")
    theirs = run_ticks([original.python, "-m", "matview_deployment.wound_clock"], original.env(DEPLOYMENT))
    for (when, _), mine, old in zip(TICKS, ours, theirs):
        assert mine.calls == old.calls, f"procedure calls differ at {when}"
        assert mine.rows == old.rows, f"ledger rows differ at {when}"
        assert mine.logs == old.logs, f"log rows differ at {when}"
        assert (mine.exit_code, mine.nagios) == (old.exit_code, old.nagios), f"exit codes differ at {when}"
