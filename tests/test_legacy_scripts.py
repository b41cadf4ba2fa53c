"""legacy_scripts/: the sample crontab converts into the example ini, and that ini runs the real scripts.

pg_dump, psql and the procedure run against the test PostgreSQL, in a database of their own.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

from crontabber.clock import FrozenClock
from crontabber.config.settings import load_settings
from crontabber.legacy.crontab_import import convert_crontab
from crontabber.outcomes import Outcome
from crontabber.testing import Harness

LEGACY = Path(__file__).resolve().parent.parent / "legacy_scripts"
DSN = os.environ.get("CRONTABBER_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def test_the_sample_crontab_converts_into_the_example_ini():
    committed = (LEGACY / "crontabber.ini").read_text()
    zone = re.search(r"^timezone = (\S+)$", committed, re.MULTILINE).group(1)
    ini, messages = convert_crontab((LEGACY / "crontab").read_text(), "crontab", zone, False)
    assert ini == committed, "regenerate: crontabber import-crontab legacy_scripts/crontab --output ..."
    reported = [str(message) for message in messages if message.line]
    assert [text.split(":")[0] for text in reported] == ["line 10", "line 29"]  # MAILTO and @reboot


@pytest.fixture
def database():
    """A database of its own on the test server, with refresh_views.sql applied."""
    name = f"legacy_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(DSN, connect_timeout=10)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(DSN)._replace(path=f"/{name}"))
    try:
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f",
                        str(LEGACY / "refresh_views.sql")], check=True, capture_output=True)
        yield url
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _env(url: str, **extra: str) -> str:
    parts = urlsplit(url)
    env = {"PATH": os.environ["PATH"], "PGHOST": parts.hostname or "", "PGPORT": str(parts.port or 5432),
           "PGUSER": parts.username or "", "PGDATABASE": parts.path.lstrip("/"), **extra}
    return "\n".join(f"{key}={value}" for key, value in env.items())


def _harness(tmp_path: Path, overrides: dict[str, str]) -> Harness:
    harness = Harness(tmp_path, FrozenClock(dt.datetime(2026, 1, 5, 12, tzinfo=dt.timezone.utc)))
    ini = (LEGACY / "crontabber.ini").read_text()
    harness.ini_path.write_text(ini.replace("[crontabber]", f"[crontabber]\ndatabase_url = {harness.database_url}", 1))
    harness.settings = load_settings(harness.ini_path, overrides, {})
    return harness


def test_the_example_ini_runs_the_legacy_scripts(tmp_path, database):
    backups, logs = tmp_path / "backups", tmp_path / "logs"
    backups.mkdir()
    logs.mkdir()
    dbname = urlsplit(database).path.lstrip("/")
    for day in range(1, 6):  # older dumps the rotation must thin out
        (backups / f"{dbname}-2025120{day}T021500Z.dump").write_text("old")
    (logs / "old.log").write_text("x")
    (logs / "recent.log").write_text("x")
    (logs / "keep.txt").write_text("x")
    past = time.time() - 20 * 86400
    os.utime(logs / "old.log", (past, past))
    os.utime(logs / "keep.txt", (past, past))
    with psycopg2.connect(database) as conn, conn.cursor() as cursor:
        cursor.execute("INSERT INTO reporting.events (kind) VALUES ('signup'), ('signup'), ('login')")
    conn.close()
    harness = _harness(tmp_path, {
        "crontabber.job-pg_backup.cwd": str(LEGACY),
        "crontabber.job-pg_backup.env": _env(database, BACKUP_DIR=str(backups), KEEP="3"),
        "crontabber.job-refresh_views.database_url": database,
        "crontabber.job-cleanup_logs.cwd": str(LEGACY),
        "crontabber.job-cleanup_logs.env": _env(database, LOG_DIR=str(logs)),
    })
    try:
        for name in ("pg_backup", "refresh_views", "cleanup_logs"):
            result = harness.run_job(name, force=True)
            assert result.outcome is Outcome.SUCCEEDED, (name, result.reason, harness.logs(name)[-1].output)
        dumps = sorted(path.name for path in backups.iterdir())
        assert len(dumps) == 3 and dumps[:2] == [f"{dbname}-20251204T021500Z.dump", f"{dbname}-20251205T021500Z.dump"]
        listing = subprocess.run(["pg_restore", "--list", str(backups / dumps[-1])], check=True,
                                 capture_output=True, text=True).stdout
        assert "MATERIALIZED VIEW" in listing and "daily_event_counts" in listing
        assert "rotating out" in harness.logs("pg_backup")[-1].output
        assert "refreshed: 2 rows" in harness.logs("refresh_views")[-1].output
        with psycopg2.connect(database) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT kind, events FROM reporting.daily_event_counts ORDER BY kind")
            assert cursor.fetchall() == [("login", 1), ("signup", 2)]
        conn.close()
        assert sorted(path.name for path in logs.iterdir()) == ["keep.txt", "recent.log"]
    finally:
        harness.close()


def test_a_failing_dump_keeps_the_old_dumps_and_reports_pg_dump_error(tmp_path, database):
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "nosuchdb-20251201T021500Z.dump").write_text("old")
    harness = _harness(tmp_path, {
        "crontabber.job-pg_backup.cwd": str(LEGACY),
        "crontabber.job-pg_backup.env": _env(database, BACKUP_DIR=str(backups), KEEP="1",
                                             PGDATABASE="nosuchdb"),
    })
    try:
        result = harness.run_job("pg_backup", force=True)
        assert result.outcome is Outcome.FAILED
        entry = harness.logs("pg_backup")[-1]
        assert "exit code 1" in entry.exc_value and "nosuchdb" in entry.exc_value
        assert sorted(path.name for path in backups.iterdir()) == ["nosuchdb-20251201T021500Z.dump"]
    finally:
        harness.close()


def test_the_wrapper_runs_crontabber_with_the_ini_beside_it(tmp_path):
    ini = tmp_path / "crontabber.ini"
    ini.write_text("[crontabber]\njobs = ''''''\n")
    done = subprocess.run([str(LEGACY / "crontabber.sh"), "configtest"], capture_output=True, text=True,
                          env={**os.environ, "CRONTABBER_INI": str(ini), "CRONTABBER_VENV": sys.prefix})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK: 0 jobs configured")
