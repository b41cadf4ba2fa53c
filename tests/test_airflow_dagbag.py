"""Generated DAGs under the real Airflow 3.3: they load, serialize, and schedule when cron would."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo
from pathlib import Path

import pytest

from airflow_bridge.export import export
from crontabber.cli.main import main
from crontabber.config.settings import load_settings
from tests.test_airflow_support import REPO, airflow_home, load_dag, write_ini

pytestmark = pytest.mark.airflow
UTC = dt.timezone.utc
YEAR = dt.timedelta(days=365)


@pytest.fixture(scope="module", autouse=True)
def _airflow():
    airflow_home()


def scheduler_view(dag):
    """The DAG as the scheduler sees it: serialized by the dag-processor, then deserialized."""
    from airflow.serialization.serialized_objects import DagSerialization

    return DagSerialization.from_dict(DagSerialization.to_dict(dag))


@pytest.mark.parametrize("mode", ["bridge", "native"])
def test_every_generated_dag_loads_and_serializes(mode):
    from airflow_bridge.check import check_folder

    folders = sorted(path for path in (REPO / "dags" / mode).iterdir() if path.is_dir())
    assert folders
    for folder in folders:
        assert check_folder(folder, list(folder.glob("*.py"))) == []


def test_example_bridge_dags_have_the_mapped_settings():
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.timetables.trigger import CronTriggerTimetable, DeltaTriggerTimetable

    from airflow_bridge.operators import CrontabberJobOperator
    from airflow_bridge.sensors import LedgerDueSensor, LedgerSensor, ParentRunSensor

    folder = REPO / "dags" / "bridge" / "examples"
    hello = scheduler_view(load_dag(folder / "hello.py"))
    assert isinstance(hello.timetable, DeltaTriggerTimetable) and hello.timetable._delta == dt.timedelta(minutes=5)
    assert hello.catchup is False and hello.max_active_runs == 1
    assert hello.tags == {"crontabber", "crontabber-bridge", "crontabber-config:crontabber_config"}
    assert hello.is_paused_upon_creation is False and hello.start_date is None  # runs decide at run time
    assert set(hello.params) == {"force", "date"} and hello.params["force"] is False

    child = load_dag(folder / "after-hello.py")
    assert sorted(child.task_dict) == ["after-hello", "wait_for_hello", "wait_until_due"]
    due, sensor, job = (child.task_dict[name] for name in ("wait_until_due", "wait_for_hello", "after-hello"))
    assert isinstance(due, LedgerDueSensor) and isinstance(sensor, LedgerSensor)
    assert isinstance(job, CrontabberJobOperator) and job.owner == "crontabber"
    assert sensor.mode == "poke" and sensor.poke_interval == 15 and sensor.timeout == 300 and sensor.soft_fail
    assert sensor.upstream_task_ids == {"wait_until_due"} and due.timeout == 600
    assert job.upstream_task_ids == {"wait_for_hello"} and job.retries == 1
    assert job.retry_delay == dt.timedelta(minutes=5)

    failing = load_dag(folder / "always-fails.py").task_dict["always-fails"]
    assert failing.retries == 3 and failing.retry_exponential_backoff == 2.0

    nightly = scheduler_view(load_dag(folder / "nightly-cleanup.py"))
    assert isinstance(nightly.timetable, CronTriggerTimetable)
    assert nightly.timetable._expression == "0 3 * * *"

    native = load_dag(REPO / "dags" / "native" / "examples" / "daily-report.py")
    assert isinstance(native.task_dict["daily-report"], PythonOperator)
    native_child = load_dag(REPO / "dags" / "native" / "examples" / "after-hello.py")  # a floating parent
    assert isinstance(native_child.task_dict["wait_for_hello"], ParentRunSensor)
    assert native_child.task_dict["wait_for_hello"].parent_dag_id == "hello"


def test_timeout_backfill_and_cutover_reach_airflow(tmp_path):
    ini = write_ini(tmp_path, "tests.jobs_for_tests.BackfillJob|1d|03:00", sections="""
        [[class-BackfillJob]]
        timeout = 20m
        max_retries = 2
        on_airflow_since = 2026-03-01T03:00:00Z
    """)
    out = tmp_path / "out"
    out.mkdir()
    for mode, seconds in (("bridge", 1260), ("native", 1200)):
        (out / "backfill.py").write_text(export(load_settings(ini, {}, {}), mode).files["backfill.py"])
        dag = load_dag(out / "backfill.py")
        task = dag.task_dict["backfill"]
        assert task.execution_timeout == dt.timedelta(seconds=seconds)
        assert task.retries == 2 and task.depends_on_past is True
        assert dag.catchup is True and dag.max_active_runs == 1
        assert dag.start_date == dt.datetime(2026, 3, 1, 3, tzinfo=UTC)


SCHEDULES = ["1h", "1d|02:30", "1d|03:00", "30 2 * * *", "0 * * * *", "30 8 * * mon-fri", "2d|03:00",
             "15 1 1 * *", "1w|00:30"]


def first_instant(schedule, after: dt.datetime) -> dt.datetime:
    return schedule.next_after(after)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_timetables_fire_when_crontabber_would_for_a_year(tmp_path, zone):
    from airflow.timetables.base import TimeRestriction

    from crontabber.schedule import parse_schedule

    tz = zoneinfo.ZoneInfo(zone)
    begin = dt.datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
    names = {text: f"job{index}" for index, text in enumerate(SCHEDULES)}
    sections = ""
    starts = {}
    for text, name in names.items():
        starts[name] = first_instant(parse_schedule(text, tz), begin)
        sections += f"[[job-{name}]]\ncommand = true\non_airflow_since = {starts[name].isoformat()}\n"
    jobs = "\n".join(f"job:{name}|{text}" for text, name in names.items())
    ini = write_ini(tmp_path, jobs, options=f"timezone = {zone}\n", sections=sections)
    settings = load_settings(ini, {}, {})
    out = tmp_path / "out"
    out.mkdir()
    for file_name, text in export(settings).files.items():
        (out / file_name).write_text(text)
    for text, name in names.items():
        schedule = parse_schedule(text, tz)
        start = starts[name]
        expected = on_time_runs(schedule, start)
        timetable = scheduler_view(load_dag(out / f"{name}.py")).timetable
        assert fired(timetable, start, TimeRestriction) == expected, (text, zone, type(timetable).__name__)


def on_time_runs(schedule, start: dt.datetime) -> list[dt.datetime]:
    """The runs the cron runner makes in a year from ``start`` when each run succeeds on time."""
    runs = [start]
    while (nxt := schedule.next_after(runs[-1])) < start + YEAR:
        runs.append(nxt)
    return runs


def fired(timetable, start: dt.datetime, restriction_class) -> list[dt.datetime]:
    """Every logical date the timetable schedules in the year from ``start`` (catchup on)."""
    import pendulum

    restriction = restriction_class(earliest=pendulum.instance(start),
                                    latest=pendulum.instance(start + YEAR - dt.timedelta(seconds=1)), catchup=True)
    found, last = [], None
    while True:
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        if info is None:
            return found
        found.append(dt.datetime.fromtimestamp(info.logical_date.timestamp(), UTC))
        last = info.data_interval


def test_airflow_cron_trigger_would_be_an_hour_off_on_both_dst_days():
    """Why the export chooses: Airflow's own timetable disagrees with cron on DST days in Berlin."""
    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.trigger import CronTriggerTimetable

    from airflow_bridge.timetables import CrontabberTimetable
    from crontabber.schedule import parse_schedule

    start = dt.datetime(2026, 1, 1, 1, 30, tzinfo=UTC)
    cron = parse_schedule("30 2 * * *", zoneinfo.ZoneInfo("Europe/Berlin"))
    expected = on_time_runs(cron, start)
    airflow = fired(CronTriggerTimetable("30 2 * * *", timezone="Europe/Berlin"), start, TimeRestriction)
    ours = fired(CrontabberTimetable("30 2 * * *", "Europe/Berlin"), start, TimeRestriction)
    assert ours == expected
    wrong = sorted(set(airflow) ^ set(expected))
    assert [when.date().isoformat() for when in wrong] == ["2026-03-29", "2026-03-29", "2026-10-25", "2026-10-25"]


def test_an_unregistered_timetable_passes_dagbag_but_fails_the_check(tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    from airflow_bridge.check import check_folder

    (tmp_path / "unregistered.py").write_text(
        "from airflow.sdk import DAG\n"
        "from airflow.timetables.base import DagRunInfo, DataInterval, Timetable\n\n\n"
        "class Unregistered(Timetable):\n"
        "    def infer_manual_data_interval(self, *, run_after):\n"
        "        return DataInterval.exact(run_after)\n\n"
        "    def next_dagrun_info(self, *, last_automated_data_interval, restriction):\n"
        "        return None\n\n\n"
        "with DAG(dag_id='unregistered', schedule=Unregistered()):\n"
        "    pass\n")
    bag = DagBag(dag_folder=str(tmp_path), bundle_path=tmp_path, bundle_name="t")
    assert not bag.import_errors and "unregistered" in bag.dags
    problems = check_folder(tmp_path)
    assert len(problems) == 1 and "unregistered" in problems[0] and "Timetable" in problems[0]


def test_check_flag_on_the_examples(tmp_path):
    ini = REPO / "crontabber" / "examples" / "crontabber.ini"
    for mode in ("bridge", "native"):
        out, err = io.StringIO(), io.StringIO()
        code = main(["export-dags", f"--admin.conf={ini}", f"--output={tmp_path / mode}", f"--mode={mode}",
                     "--check"], out, err)
        assert code == 0, err.getvalue()
        assert "DAG files load and serialize" in out.getvalue()
    broken = tmp_path / "bridge" / "zz_broken.py"
    broken.write_text("# Generated by `crontabber export-dags --mode bridge`: x\n# Job: gone\n"
                      "from airflow.sdk import DAG\n\nraise ValueError('broken on purpose')\n")
    err = io.StringIO()
    code = main(["export-dags", f"--admin.conf={ini}", f"--output={tmp_path / 'bridge'}", "--check"],
                io.StringIO(), err)
    assert code == 2 and "broken on purpose" in err.getvalue() and "stale: zz_broken.py" in err.getvalue()
    assert Path(broken).exists()


def test_without_catchup_a_missed_instant_runs_once_and_never_before_start_date():
    """As a cron runner that was down: after a gap, only the latest missed instant runs."""
    import pendulum
    from airflow.timetables.base import DataInterval, TimeRestriction

    from airflow_bridge.timetables import CrontabberTimetable

    timetable = CrontabberTimetable("30 2 * * *", "Europe/Berlin")
    now = dt.datetime.now(UTC)
    long_ago = pendulum.instance(now - dt.timedelta(days=10))
    restriction = TimeRestriction(earliest=long_ago, latest=None, catchup=False)
    info = timetable.next_dagrun_info(last_automated_data_interval=DataInterval.exact(long_ago),
                                      restriction=restriction)
    latest = timetable.instants.last_at_or_before(now)
    assert info.logical_date == latest and latest > now - dt.timedelta(days=1, hours=2)
    future = pendulum.instance(now + dt.timedelta(days=30))
    info = timetable.next_dagrun_info(last_automated_data_interval=None,
                                      restriction=TimeRestriction(earliest=future, latest=None, catchup=False))
    assert info.logical_date >= future
    assert timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=None, latest=pendulum.instance(now - dt.timedelta(days=1)),
                                    catchup=False)) is None
