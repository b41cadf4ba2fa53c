"""Native-mode DAGs run by the real Airflow 3.3 (``dag.test()``): plain operators, no ledger.

Shell jobs run as the command a person would write (cwd, ``~`` of the worker, Variables
through env/cwd, stdin exactly as cron feeds it), procedure jobs log their notices, and
a Socorro-shaped graph of 11 jobs on floating schedules runs in dependency order.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pytest

from airflow_bridge.export import Options, export, file_name
from crontabber.base import BaseCronApp
from crontabber.clock import SystemClock
from crontabber.runner import Runner
from tests.test_airflow_support import (  # noqa: F401
    REPO,
    airflow_home,
    airflow_setup,
    dags_folder,
    deploy,
    ledger_of,
    load_dag,
    record,
)

pytestmark = pytest.mark.airflow
UTC = dt.timezone.utc


@pytest.fixture
def setup(tmp_path, monkeypatch, dags_folder):  # noqa: F811
    return airflow_setup(tmp_path, monkeypatch, dags_folder)


def test_a_native_bash_dag_runs_a_legacy_script(setup, tmp_path, monkeypatch):
    configure, recorded, folder = setup
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "old.log").write_text("old\n")
    (logs / "new.log").write_text("new\n")
    ten_days_ago = time.time() - 10 * 86400
    os.utime(logs / "old.log", (ten_days_ago, ten_days_ago))
    settings = configure("job:cleanup|30 4 * * *", f"""
        [[job-cleanup]]
        command = ./cleanup_logs.sh 3
        cwd = legacy_scripts
        env = LOG_DIR={logs}
        max_retries = 0
    """)
    monkeypatch.setenv("AIRFLOW_VAR_CRONTABBER_BASE", str(REPO))  # the base folder, an Airflow Variable
    dag = deploy(settings, folder, "cleanup", mode="native")
    assert type(dag.task_dict["cleanup"]).__name__ == "BashOperator"
    assert dag.test().state == "success"
    assert sorted(path.name for path in logs.iterdir()) == ["new.log"]
    ledger = ledger_of(settings)
    assert ledger.load_all() == {}  # native mode writes no ledger
    ledger.close()


CAPTURE = """#!/bin/sh
pwd > "$OUT_DIR/$1.pwd"
cat > "$OUT_DIR/$1.stdin"
"""


def test_stdin_home_and_variables_resolve_on_the_worker(setup, tmp_path, monkeypatch):
    """stdin is fed byte for byte as the cron runner feeds it (no here-string newline); ``~`` is the
    home of the host that runs the task, not the exporter's; OUT_DIR comes from an Airflow Variable."""
    configure, recorded, folder = setup
    exporter_home, worker_home, out = tmp_path / "exporter", tmp_path / "worker", tmp_path / "out"
    for path in (exporter_home / "work", worker_home / "work", out):
        path.mkdir(parents=True)
    for home in (exporter_home, worker_home):
        (home / "work" / "capture.sh").write_text(CAPTURE)
        (home / "work" / "capture.sh").chmod(0o755)
    settings = configure("job:capture|1h", """
        [[job-capture]]
        command = ./capture.sh airflow
        cwd = ~/work
        env = OUT_DIR=/exporter/only
        stdin = '''
        Subject: report
          indented line, no newline at the end'''
        max_retries = 0
    """)
    monkeypatch.setenv("HOME", str(exporter_home))
    result = export(settings, options=Options(mode="native", variables={"OUT_DIR": "capture_out"}))
    source = result.files["capture.py"]
    assert str(exporter_home) not in source and "/exporter/only" not in source
    (folder / "capture.py").write_text(source)
    dag = load_dag(folder / "capture.py")
    monkeypatch.setenv("HOME", str(worker_home))
    monkeypatch.setenv("AIRFLOW_VAR_CAPTURE_OUT", str(out))
    assert dag.test().state == "success"
    assert (out / "airflow.pwd").read_text().strip() == str(worker_home / "work")
    cron = configure("job:capture|1h", """
        [[job-capture]]
        command = ./capture.sh cron
        cwd = ~/work
        env = OUT_DIR=$OUT
        stdin = '''
        Subject: report
          indented line, no newline at the end'''
    """.replace("$OUT", str(out)))
    ledger = ledger_of(cron)
    assert Runner(cron, ledger, SystemClock()).run_job("capture", force=True).outcome.value == "succeeded"
    ledger.close()
    assert (out / "airflow.stdin").read_bytes() == (out / "cron.stdin").read_bytes()
    assert (out / "cron.stdin").read_bytes() == b"Subject: report\n  indented line, no newline at the end"


def test_native_procedure_dags_call_procedures_and_functions(setup, monkeypatch):
    """SQLExecuteQueryOperator on a connection: CALL for a procedure, SELECT for a function with the
    date (the run's, or the one a person names). The live tier reads a RAISE NOTICE in the task log."""
    import uuid

    import psycopg2

    configure, recorded, folder = setup
    dsn = os.environ.get("CRONTABBER_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/test")
    schema = f"af_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(dsn, connect_timeout=10)
    admin.autocommit = True
    cursor = admin.cursor()
    cursor.execute(f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.marks (note text);"
                   f"CREATE PROCEDURE {schema}.mark() LANGUAGE plpgsql AS $$ BEGIN "
                   f"INSERT INTO {schema}.marks VALUES ('call'); RAISE NOTICE 'marked % rows', 1; END $$;"
                   f"CREATE FUNCTION {schema}.mark_date(d date) RETURNS void LANGUAGE sql "
                   f"AS $$ INSERT INTO {schema}.marks VALUES (d::text) $$;")
    try:
        monkeypatch.setenv("AIRFLOW_CONN_CRONTABBER_POSTGRES", dsn)
        settings = configure("job:proc_call|1h\njob:proc_date|1d|03:00", f"""
            [[job-proc_call]]
            procedure = {schema}.mark
            database_url = {dsn}
            max_retries = 0
            [[job-proc_date]]
            procedure = {schema}.mark_date
            pass_date = true
            database_url = {dsn}
            max_retries = 0
            on_airflow_since = 2026-03-01T03:00:00Z
        """, options="timezone = Europe/Berlin\nerror_retry_time = 1\n")
        assert deploy(settings, folder, "proc_call", mode="native").test().state == "success"
        dag = deploy(settings, folder, "proc_date", mode="native")
        assert type(dag.task_dict["proc_date"]).__name__ == "SQLExecuteQueryOperator"
        when = dt.datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 03:00 in Berlin
        assert dag.test(logical_date=when).state == "success"
        assert dag.test(run_conf={"date": "2026-03-05"}).state == "success"  # a person names the date
        cursor.execute(f"SELECT note FROM {schema}.marks ORDER BY note")
        assert [row[0] for row in cursor.fetchall()] == ["2026-03-02", "2026-03-05", "call"]
    finally:
        cursor.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


# -- a Socorro-shaped graph: hourly parents, daily children without a time of day ----------
def _job(name: str, parents: tuple[str, ...] = (), fail_flag: bool = False) -> type:
    def run(self):
        if fail_flag and Path(os.environ["AIRFLOW_TEST_RECORD"] + ".fail").exists():
            record(f"{name} failed")
            raise RuntimeError(f"{name} fails on purpose")
        record(name)

    return type(name.title().replace("-", ""), (BaseCronApp,), {"app_name": name, "depends_on": parents,
                                                                "run": run, "__module__": __name__})


SOCORRO = {
    "crash-ingest": ("1h", ()), "symbols": ("1h", ()), "adu-fetch": ("1h", ()), "versions": ("1h", ()),
    "exploitability": ("1h", ("crash-ingest",)),
    "daily-crashes": ("1d", ("crash-ingest",)), "daily-symbols": ("1d", ("symbols",)),
    "adu-summary": ("1d", ("adu-fetch",)),
    "signature-matrix": ("1d", ("crash-ingest", "symbols", "versions")),  # three parents
    "top-crashers": ("1d", ("daily-crashes", "signature-matrix")),
}
for _name, (_, _parents) in SOCORRO.items():
    _class = _job(_name, _parents, fail_flag=_name == "versions")
    globals()[_class.__name__] = _class


def test_a_socorro_shaped_graph_runs_natively_in_dependency_order(setup, monkeypatch):
    configure, recorded, folder = setup
    lines = [f"tests.test_airflow_native.{name.title().replace('-', '')}|{schedule}"
             for name, (schedule, _) in SOCORRO.items()]
    settings = configure("\n".join(lines + ["job:nightly-cleanup|1d"]), """
        [[job-nightly-cleanup]]
        command = true
        depends_on = top-crashers
    """, options="error_retry_time = 1\nmax_retries = 0\n")
    assert len(settings.jobs) == 11
    result = export(settings, "native", ["nightly-cleanup", "adu-summary"])  # their connected groups come along
    assert not result.skipped and len(result.files) == 11
    assert result.taken_along["crash-ingest"] == "nightly-cleanup" and result.taken_along["adu-fetch"] == "adu-summary"
    for name, text in result.files.items():
        (folder / name).write_text(text)
    order = [job.app_name for job in settings.jobs]  # topological
    for name in order:
        dag = load_dag(folder / file_name(result.dag_ids[name]))
        for task in dag.tasks:
            if task.task_id.startswith("wait_for_"):
                task.timeout = 30  # a parent that has run succeeds at the first poke
        run = dag.test()
        assert run.state == "success", name
        assert all(run.get_task_instance(task.task_id).state == "success" for task in dag.tasks), name
    assert recorded() == [name for name in order if name != "nightly-cleanup"]
    matrix = load_dag(folder / "signature-matrix.py")
    assert sorted(matrix.task_dict) == ["signature-matrix", "wait_for_crash-ingest", "wait_for_symbols",
                                        "wait_for_versions"]

    Path(os.environ["AIRFLOW_TEST_RECORD"] + ".fail").write_text("")  # versions fails: its child waits
    assert load_dag(folder / "versions.py").test().state == "failed"
    for task in matrix.tasks:
        if task.task_id.startswith("wait_for_"):
            task.timeout = 4
    run = matrix.test()
    assert run.get_task_instance("wait_for_versions").state == "skipped"
    assert run.get_task_instance("wait_for_crash-ingest").state == "success"
    assert run.get_task_instance("signature-matrix").state == "skipped"
    assert recorded()[-1] == "versions failed"
