"""Generated DAGs run by the real Airflow 3.3 (``dag.test()``), side by side with the cron runner.

One migrated SQLite metadata DB serves the session. The jobs below record what
they did in a file named by ``$AIRFLOW_TEST_RECORD``, so the assertions are about
order and counts, never about durations.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from crontabber.base import BaseCronApp
from crontabber.clock import SystemClock
from crontabber.mixins import as_backfill_cron_app
from crontabber.outcomes import Outcome
from crontabber.runner import Runner
from tests.test_airflow_support import airflow_home, airflow_setup, dags_folder, deploy, ledger_of, record  # noqa: F401

pytestmark = pytest.mark.airflow
UTC = dt.timezone.utc


@pytest.fixture
def setup(tmp_path, monkeypatch, dags_folder):  # noqa: F811
    return airflow_setup(tmp_path, monkeypatch, dags_folder)


class RecordingJob(BaseCronApp):
    app_name = "af-recording"

    def run(self):
        record("recording")


class FailingJob(BaseCronApp):
    app_name = "af-failing"

    def run(self):
        raise RuntimeError("failing on purpose")


class ParentJob(BaseCronApp):
    app_name = "af-parent"

    def run(self):
        if Path(os.environ["AIRFLOW_TEST_RECORD"] + ".fail").exists():
            record("parent failed")
            raise RuntimeError("parent is failing")
        record("parent ok")


class ChildJob(BaseCronApp):
    app_name = "af-child"
    depends_on = "af-parent"

    def run(self):
        record("child")


@as_backfill_cron_app
class BackfillRecorder(BaseCronApp):
    app_name = "af-backfill"

    def run(self, date):
        record(f"backfill {date.isoformat()}")


def test_a_bridge_dag_writes_its_run_to_the_ledger(setup):
    configure, recorded, folder = setup
    settings = configure("tests.test_airflow_run.RecordingJob|1h\ntests.test_airflow_run.FailingJob|1h", """
        [[class-RecordingJob]]
        on_airflow_since = 2026-01-01T00:00:00Z
        [[class-FailingJob]]
        on_airflow_since = 2026-01-01T00:00:00Z
        max_retries = 0
    """)
    run = deploy(settings, folder, "af-recording").test()
    assert run.state == "success" and recorded() == ["recording"]
    ledger = ledger_of(settings)
    state = ledger.load_all()["af-recording"]
    assert state.last_run is not None and state.error_count == 0 and not state.last_error
    assert state.next_run == state.last_run + dt.timedelta(hours=1)
    assert [entry.outcome for entry in ledger.logs("af-recording")] == [Outcome.SUCCEEDED]

    failed = deploy(settings, folder, "af-failing").test()
    assert failed.state == "failed"
    state = ledger.load_all()["af-failing"]
    assert state.error_count == 1 and state.last_error["value"] == "failing on purpose"
    assert [entry.outcome for entry in ledger.logs("af-failing")] == [Outcome.FAILED]
    ledger.close()


def sensor_state(dag_id: str, task_id: str) -> str | None:
    connection = sqlite3.connect(airflow_home() / "airflow.db", timeout=30)
    try:
        row = connection.execute("SELECT state FROM task_instance WHERE dag_id = ? AND task_id = ? "
                                 "ORDER BY start_date DESC LIMIT 1", (dag_id, task_id)).fetchone()
    except sqlite3.OperationalError:  # busy: ask again
        return None
    finally:
        connection.close()
    return row[0] if row else None


def test_a_child_on_airflow_waits_for_its_parent_on_cron(setup):
    configure, recorded, folder = setup
    settings = configure("tests.test_airflow_run.ParentJob|1h\ntests.test_airflow_run.ChildJob|1h", """
        [[class-ChildJob]]
        on_airflow_since = 2026-01-01T00:00:00Z
        max_retries = 0
    """)
    flag = Path(os.environ["AIRFLOW_TEST_RECORD"] + ".fail")
    flag.write_text("")
    ledger = ledger_of(settings)
    cron = Runner(settings, ledger, SystemClock())
    assert cron.run_job("af-parent", force=True).outcome is Outcome.FAILED
    fixed = {}

    def parent_recovers():
        deadline = time.monotonic() + 120
        while sensor_state("af-child", "wait_for_af-parent") != "running" and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2.5)  # a few more pokes (poke_interval = error_retry_time = 1 s) while it still fails
        assert cron.run_job("af-parent", force=True).outcome is Outcome.FAILED
        flag.unlink()
        fixed["result"] = Runner(settings, ledger_of(settings), SystemClock()).run_job("af-parent", force=True)

    helper = threading.Thread(target=parent_recovers)
    helper.start()
    run = deploy(settings, folder, "af-child").test()
    helper.join()
    assert fixed["result"].outcome is Outcome.SUCCEEDED
    assert run.state == "success"
    assert recorded() == ["parent failed", "parent failed", "parent ok", "child"]
    sensor = run.get_task_instance("wait_for_af-parent")
    parent_success = [entry.log_time for entry in ledger.logs("af-parent") if entry.outcome is Outcome.SUCCEEDED]
    assert sensor.state == "success" and sensor.start_date < parent_success[0]
    child = ledger.load_all()["af-child"]
    assert child.last_run > parent_success[0] and child.error_count == 0
    ledger.close()


def test_a_child_on_cron_sees_its_parent_run_by_airflow(setup):
    configure, recorded, folder = setup
    settings = configure("tests.test_airflow_run.ParentJob|1h\ntests.test_airflow_run.ChildJob|1h", """
        [[class-ParentJob]]
        on_airflow_since = 2026-01-01T00:00:00Z
        max_retries = 0
    """)
    ledger = ledger_of(settings)
    before = {result.app_name: result.outcome for result in Runner(settings, ledger, SystemClock()).tick()}
    assert before == {"af-parent": Outcome.SKIPPED_ON_AIRFLOW, "af-child": Outcome.SKIPPED_DEPENDENCY}
    assert deploy(settings, folder, "af-parent").test().state == "success"
    after = {result.app_name: result.outcome for result in Runner(settings, ledger, SystemClock()).tick()}
    assert after == {"af-parent": Outcome.SKIPPED_ON_AIRFLOW, "af-child": Outcome.SUCCEEDED}
    assert recorded() == ["parent ok", "child"]
    ledger.close()


def test_a_backfill_dag_runs_each_missed_date_once(setup):
    import pendulum
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.timetables.base import TimeRestriction

    configure, recorded, folder = setup
    start = dt.datetime(2026, 3, 28, 1, 30, tzinfo=UTC)  # 02:30 in Berlin; the next day skips 02:30
    settings = configure("tests.test_airflow_run.BackfillRecorder|30 2 * * *", f"""
        [[class-BackfillRecorder]]
        on_airflow_since = {start.isoformat()}
        max_retries = 0
    """, options="timezone = Europe/Berlin\nerror_retry_time = 1\n")
    dag = deploy(settings, folder, "af-backfill")
    timetable = DagSerialization.from_dict(DagSerialization.to_dict(dag)).timetable
    restriction = TimeRestriction(earliest=pendulum.instance(dag.start_date),
                                  latest=pendulum.instance(start + dt.timedelta(days=2, hours=12)),
                                  catchup=True)
    dates, last = [], None
    while (info := timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)):
        dates.append(info.logical_date)
        last = info.data_interval
    assert [when.isoformat() for when in dates] == [
        "2026-03-28T01:30:00+00:00", "2026-03-29T01:00:00+00:00", "2026-03-30T00:30:00+00:00"]
    for when in [*dates, dates[1]]:
        assert dag.test(logical_date=when).state == "success"
    assert recorded() == [f"backfill {when.isoformat()}" for when in dates]
    ledger = ledger_of(settings)
    assert ledger.load_all()["af-backfill"].last_success == dates[-1]
    assert len([e for e in ledger.logs("af-backfill", 20) if e.outcome is Outcome.SUCCEEDED]) == 3
    ledger.close()


def test_a_child_on_airflow_is_skipped_only_after_its_sensor_times_out(setup):
    configure, recorded, folder = setup
    settings = configure("tests.test_airflow_run.ParentJob|1h\ntests.test_airflow_run.ChildJob|1h", """
        [[class-ChildJob]]
        on_airflow_since = 2026-01-01T00:00:00Z
        max_retries = 0
    """)
    Path(os.environ["AIRFLOW_TEST_RECORD"] + ".fail").write_text("")
    ledger = ledger_of(settings)
    assert Runner(settings, ledger, SystemClock()).run_job("af-parent", force=True).outcome is Outcome.FAILED
    dag = deploy(settings, folder, "af-child")
    sensor = dag.get_task("wait_for_af-parent")
    assert sensor.timeout == 3600 and sensor.soft_fail and sensor.mode == "poke"  # the child's interval
    sensor.timeout = 3  # the generated sensor, with a timeout a test can wait out
    run = dag.test()
    assert run.get_task_instance("wait_for_af-parent").state == "skipped"
    assert run.get_task_instance("af-child").state == "skipped"
    assert recorded() == ["parent failed"]  # the child never ran
    assert "af-child" not in ledger.load_all() or ledger.load_all()["af-child"].last_run is None
    ledger.close()


def test_the_ledger_decides_a_manual_run_and_force_overrides_it(setup):
    """A manual trigger of an interval the ledger already has succeeds without running the job;
    params force runs it; a job cron still runs is skipped with the reason."""
    configure, recorded, folder = setup
    settings = configure("tests.test_airflow_run.RecordingJob|1h\ntests.test_airflow_run.ParentJob|1h", """
        [[class-RecordingJob]]
        on_airflow_since = 2026-01-01T00:00:00Z
    """)
    dag = deploy(settings, folder, "af-recording")
    assert dag.test().state == "success" and recorded() == ["recording"]
    again = dag.test()  # the ledger says next due in an hour
    assert again.state == "success" and recorded() == ["recording"]
    assert again.get_task_instance("wait_until_due").state == "skipped"
    assert again.get_task_instance("af-recording").state == "skipped"
    forced = dag.test(run_conf={"force": True})
    assert forced.state == "success" and recorded() == ["recording", "recording"]
    ledger = ledger_of(settings)
    assert [entry.outcome for entry in ledger.logs("af-recording")] == [Outcome.SUCCEEDED] * 2
    cron_owned = deploy(settings, folder, "af-parent").test()  # no on_airflow_since: cron's job
    assert cron_owned.state == "success" and recorded() == ["recording", "recording"]
    assert cron_owned.get_task_instance("wait_until_due").state == "skipped"
    assert "af-parent" not in ledger.load_all()
    ledger.close()
