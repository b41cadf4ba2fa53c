"""A job module written for crontabber 0.18.1 loads and runs unchanged (design §3)."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest

from crontabber.outcomes import Outcome
from tests.pg_support import temp_database

L = "tests.legacy_0_18_1_jobs."
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def notes_db():
    with temp_database() as url:
        conn = psycopg2.connect(url)
        conn.cursor().execute("CREATE TABLE api_notes (note text)")
        conn.commit()
        yield url, conn
        conn.close()


def notes(conn):
    cursor = conn.cursor()
    cursor.execute("SELECT note FROM api_notes ORDER BY note")
    conn.commit()
    return [row[0] for row in cursor.fetchall()]


def legacy_resource_section(url):
    parts = urlsplit(url)
    return (f"[resource]\n    [[postgresql]]\n    host = {parts.hostname}\n    port = {parts.port}\n"
            f"    dbname = {parts.path[1:]}\n    user = {parts.username}\n")


def test_postgres_mixins_with_legacy_resource_options(harness, notes_db):
    url, conn = notes_db
    harness.configure([f"{L}InsertRowCronApp|1h", f"{L}RollbackCronApp|1h", f"{L}DatedRowsCronApp|1d"],
                      extra=legacy_resource_section(url),
                      sections={"class-InsertRowCronApp": {"note": "configured note"}})
    results = harness.tick()
    assert results["insert-row"].outcome is Outcome.SUCCEEDED
    assert results["rolls-back"].outcome is Outcome.FAILED
    assert harness.state("rolls-back").last_error["value"] == "undo that"
    assert results["dated-rows"].outcome is Outcome.SUCCEEDED
    today = harness.clock.now().date()
    assert notes(conn) == sorted(["configured note", today.isoformat()])
    harness.clock.advance(days=2, minutes=1)
    harness.tick()
    assert [n for n in notes(conn) if n.startswith("2026")] == [
        (today + dt.timedelta(days=n)).isoformat() for n in range(3)]


def test_socorro_alias_classes(harness, notes_db):
    url, conn = notes_db
    harness.configure([f"{L}SocorroStyleBackfill|1d", f"{L}SocorroSubprocess|1d", f"{L}EchoCronApp|1d"],
                      extra=legacy_resource_section(url))
    results = harness.tick()
    assert {name: r.outcome for name, r in results.items()} == {
        "socorro-backfill": Outcome.SUCCEEDED, "socorro-subprocess": Outcome.SUCCEEDED,
        "echo": Outcome.SUCCEEDED}
    assert harness.settings.job("socorro-backfill").is_backfill
    assert notes(conn) == [f"socorro {harness.clock.now().date().isoformat()}"]


def test_job_information_is_the_previous_row(harness):
    from crontabber.base import BaseCronApp

    seen = []

    class Spy(BaseCronApp):
        app_name = "spy"

        def run(self):
            seen.append(self.job_information)

    sys.modules[__name__].Spy = Spy
    harness.configure(f"{__name__}.Spy|1h")
    harness.tick()
    harness.clock.advance(hours=1)
    harness.tick()
    assert seen[0] is None
    assert seen[1]["last_success"] == harness.clock.now() - dt.timedelta(hours=1)
    assert seen[1]["error_count"] == 0 and seen[1]["depends_on"] == []


def test_test_kit_run_job_fixture(run_job, calls):
    from tests.jobs_for_tests import ConfiguredJob

    result = run_job(ConfiguredJob, config={"color": "teal"})
    assert result.outcome is Outcome.SUCCEEDED
    assert calls == [("configured", "teal", 1)]
    assert run_job.harness.state("configured").last_success == run_job.harness.clock.now()


INTERPRETERS = sorted(Path("/root/.pyenv/versions").glob("3.1[0-3]*/bin/python3"))


@pytest.mark.parametrize("python", INTERPRETERS or [Path(sys.executable)], ids=lambda p: p.parts[-3])
def test_configman_imports_on_every_supported_python(python, tmp_path):
    """configman 1.3.0 needs our compat shim on 3.10+; prove it on each interpreter we can find."""
    import configman
    import configobj
    import cronsim
    import six

    libs = tmp_path / "libs"
    libs.mkdir()
    for module in (configman, configobj, cronsim, six):
        source = Path(module.__file__)
        target = libs / (source.parent.name if source.name == "__init__.py" else source.name)
        os.symlink(source.parent if source.name == "__init__.py" else source, target)
    script = ("import crontabber.base, configman, collections; "
              "from crontabber.config.settings import load_settings; "
              "s = load_settings(None, {'crontabber.jobs': 'tests.jobs_for_tests.FooJob|1h'}, {}); "
              "print(s.jobs[0].app_name, collections.MutableSet)")
    proc = subprocess.run([str(python), "-c", script], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": f"{ROOT}:{libs}", "PATH": os.environ["PATH"]})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("foo ")


def test_job_resource_defaults_do_not_move_the_ledger(harness, notes_db):
    """A job's ConnectionFactory defaults (host=localhost) must not turn the ledger into PostgreSQL."""
    harness.database_url = ""
    settings = harness.configure([f"{L}InsertRowCronApp|1h"])
    assert settings.database_url.startswith("sqlite:///")
