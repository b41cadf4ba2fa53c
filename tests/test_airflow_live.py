"""The live tier: crontabber and a real Airflow 3.3 deployment side by side, on the real clock.

Airflow's api-server, scheduler, dag-processor and triggerer run on loopback with their
metadata in a scratch PostgreSQL database; ``crontabber export-dags`` output is deployed
unpaused; the test drives it through the REST API while a cron runner ticks every few
seconds on the same PostgreSQL ledger:

- the scheduler itself runs a bridge job (``hourly``) and a parent with its child;
- a cutover of the parent and the child at the ledger's next run (an ini edit, no unpause),
  then a rollback (another ini edit): every interval runs exactly once across cron and Airflow;
- a manual trigger of a done interval does not rerun it;
- a native procedure DAG's RAISE NOTICE text is in its task log;
- the web UI: screenshots of the DAG list and a graph from headless Chromium;
- the same bridge DAGs on CeleryExecutor with the local Redis and one worker.

Run with ``pytest -m airflow_live``; CI always runs it (about 6 minutes). With
``CRONTABBER_UPDATE_SCREENSHOTS=1`` it also refreshes the screenshots in docs/.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.live_airflow import Deployment, wait_until
from tests.pg_support import REPO, execute, temp_database

pytestmark = pytest.mark.airflow_live
UTC = dt.timezone.utc
TICK = 3.0  # the cron runner's tick, seconds
GRID_OFFSET = 40  # seconds between Airflow's grid of the 1-minute DAGs and cron's first tick
CRONTABBER = Path(sys.executable).with_name("crontabber")
DOCS = REPO / "docs"


def ini_text(ledger: str, schema: str, parent_since: str = "", child_since: str = "") -> str:
    def since(value: str) -> str:
        return f"    on_airflow_since = {value}\n" if value else ""

    return ("[crontabber]\n"
            f"database_url = {ledger}\n"
            "error_retry_time = 10\n"
            "jobs = '''\n"
            "    tests.live_jobs.ParentJob|1m\n    tests.live_jobs.ChildJob|1m\n"
            "    tests.live_jobs.HourlyJob|1h\n    job:notice|1h\n'''\n"
            f"  [[class-ParentJob]]\n{since(parent_since)}"
            f"  [[class-ChildJob]]\n{since(child_since)}"
            "  [[class-HourlyJob]]\n    on_airflow_since = 2026-01-01T00:00:00Z\n"
            f"  [[job-notice]]\n    procedure = {schema}.notice\n    max_retries = 0\n"
            "    on_airflow_since = 2026-01-01T00:00:00Z\n")


def write_atomically(path: Path, text: str) -> None:
    """An operator's ini edit, in one step (the runner and the workers never see half a file)."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


class CronLoop(threading.Thread):
    """The cron side: ``crontabber --admin.conf=INI`` every TICK seconds, as a crontab would."""

    def __init__(self, ini: Path, env: dict[str, str], first_tick: dt.datetime) -> None:
        super().__init__(daemon=True)
        self.ini, self.env, self.first_tick = ini, env, first_tick
        self.halt = threading.Event()
        self.failures: list[str] = []

    def run(self) -> None:
        self.halt.wait(max(0.0, (self.first_tick - dt.datetime.now(UTC)).total_seconds()))
        while not self.halt.is_set():
            started = time.monotonic()
            done = subprocess.run([str(CRONTABBER), f"--admin.conf={self.ini}"], env=self.env,
                                  capture_output=True, text=True, timeout=60)
            if done.returncode != 0:
                self.failures.append(done.stderr[-1000:])
            self.halt.wait(max(0.0, TICK - (time.monotonic() - started)))

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=70)


def recorded(path: Path) -> list[tuple[str, str, str, dt.datetime]]:
    """(job, side, executor, started) lines the jobs wrote."""
    rows = []
    for line in path.read_text().splitlines():
        name, side, executor, when = line.split()
        rows.append((name, side, executor, dt.datetime.fromisoformat(when)))
    return rows


def runs_of(rows, name: str) -> list[tuple[str, str, dt.datetime]]:
    return [(side, executor, when) for job, side, executor, when in rows if job == name]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    seed = int(os.environ.get("CRONTABBER_LIVE_SEED", random.randrange(1 << 30)))
    print(f"live tier seed: {seed} (CRONTABBER_LIVE_SEED={seed} repeats its names and Redis database)")
    rng = random.Random(seed)
    home = tmp_path_factory.mktemp("airflow-live")
    queue = f"crontabber-live-{rng.randrange(1 << 30):x}"
    with temp_database() as metadata, temp_database() as ledger:
        schema = "live_notice"
        execute(ledger, f"CREATE SCHEMA {schema}; CREATE PROCEDURE {schema}.notice() LANGUAGE plpgsql AS $$ "
                        "BEGIN RAISE NOTICE 'notice from the crontabber live test'; END $$")
        record = home / "record.txt"
        record.write_text("")
        deployment = Deployment(home, metadata, {
            "LIVE_RECORD": str(record), "LIVE_EXECUTOR": "local",
            "AIRFLOW_CONN_CRONTABBER_POSTGRES": ledger,
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:6379/{rng.randrange(1, 16)}",
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata.replace("postgresql://", "postgresql+psycopg2://"),
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        })
        ini = home / "crontabber.ini"
        ini.write_text(ini_text(ledger, schema))
        started = time.monotonic()
        try:
            deployment.migrate()
            for service in ("api-server", "scheduler", "dag-processor", "triggerer"):
                deployment.start(service, service)
            wait_until(deployment.healthy, 300, "the api-server, scheduler, dag-processor and triggerer")
            deployment.api("POST", "/variables", json={"key": "live_ini", "value": str(ini)})
            export = [str(CRONTABBER), f"--admin.conf={ini}", "export-dags", f"--output={deployment.dags}",
                      "--config-variable=live_ini", "--dag-id-prefix=live."]
            env = {**deployment.env, "PYTHONPATH": str(REPO)}
            for extra in (["--jobs=parent,child,hourly"], ["--jobs=notice", "--mode=native"]):
                done = subprocess.run(export + extra, env=env, capture_output=True, text=True, timeout=120)
                assert done.returncode == 0, done.stderr
            wanted = {"live.parent", "live.child", "live.hourly", "live.notice"}
            wait_until(lambda: wanted <= deployment.dag_ids(), 120, f"the DAGs {sorted(wanted)} to be parsed")
            unpause_once(deployment, wanted)
            print(f"live deployment ready after {time.monotonic() - started:.0f} s")
            yield deployment, ini, ledger, schema, record, queue
        finally:
            deployment.stop()
            print(f"live tier: {time.monotonic() - started:.0f} s from migrate to the last process ended")


def unpause_once(deployment: Deployment, dag_ids: set[str]) -> None:
    """docs/airflow.md's one-time step for DAGs deployed paused by earlier exports: one REST call
    unpauses every DAG of a configuration (found by its tag). Paused first, as they would be."""
    query = {"tags": "crontabber-config:live_ini", "dag_id_pattern": "%"}
    for paused in (True, False):
        deployment.api("PATCH", "/dags", params=query, json={"is_paused": paused})
        dags = deployment.api("GET", "/dags", params={"limit": 100})["dags"]
        assert {dag["dag_id"]: dag["is_paused"] for dag in dags} == dict.fromkeys(dag_ids, paused)


def test_airflow_for_real(live):
    deployment, ini, ledger, schema, record, queue = live
    cron_env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    cron_env.update({"PYTHONPATH": str(REPO), "LIVE_RECORD": str(record), "LIVE_EXECUTOR": "cron"})
    # cron's first tick 40 s after Airflow's grid of the parent: the two schedules float apart, as
    # they do in life, and each Airflow run's first step waits half a minute (so it defers)
    grid = wait_until(lambda: deployment.runs("live.parent"), 60, "the scheduler's first live.parent run")
    phase = dt.datetime.fromisoformat(grid[0]["run_after"]) + dt.timedelta(seconds=GRID_OFFSET)
    while phase < dt.datetime.now(UTC) + dt.timedelta(seconds=1):
        phase += dt.timedelta(minutes=1)
    cron = CronLoop(ini, cron_env, first_tick=phase)
    cron.start()
    side = Side(deployment, record)
    side.start()
    try:
        timeline(deployment, ini, ledger, schema, record, queue, cron, side)
    finally:
        cron.stop()
        side.join(timeout=300)
    assert not cron.failures, cron.failures[:3]


def ledger_next_run(ledger: str, name: str) -> dt.datetime | None:
    import psycopg2

    try:
        rows = execute(ledger, "SELECT next_run FROM crontabber WHERE app_name = %s", (name,))
    except psycopg2.errors.UndefinedTable:  # before the cron runner's first tick
        return None
    return rows[0][0].astimezone(UTC) if rows and rows[0][0] else None


class Side(threading.Thread):
    """What the test checks while the timeline waits for the clock (``error``: what failed)."""

    def __init__(self, deployment: Deployment, record: Path) -> None:
        super().__init__(daemon=True)
        self.deployment, self.record = deployment, record
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            started = time.monotonic()
            side_scenarios(self.deployment, self.record)
            print(f"side scenarios took {time.monotonic() - started:.0f} s")
        except BaseException as exc:  # re-raised by the test
            self.error = exc

    def result(self) -> None:
        self.join(timeout=300)
        assert not self.is_alive(), "the side scenarios did not finish"
        if self.error is not None:
            raise self.error


def side_scenarios(deployment: Deployment, record: Path) -> None:
    # -- the scheduler ran `hourly` by itself; a manual trigger of its done interval does not rerun it
    hourly = wait_until(lambda: [run for run in deployment.runs("live.hourly") if run["state"] == "success"],
                        90, "the scheduler's first live.hourly run")[0]
    assert deployment.task_instances("live.hourly", hourly["dag_run_id"])["hourly"]["state"] == "success"
    assert [side for side, _, _ in runs_of(recorded(record), "hourly")] == ["airflow"]
    manual = deployment.finished("live.hourly", deployment.trigger("live.hourly"), 90)
    tis = deployment.task_instances("live.hourly", manual["dag_run_id"])
    assert manual["state"] == "success" and tis["wait_until_due"]["state"] == "skipped"
    assert tis["hourly"]["state"] == "skipped" and len(runs_of(recorded(record), "hourly")) == 1
    assert "nothing to do: the ledger says it is next due" in deployment.log(
        "live.hourly", manual["dag_run_id"], "wait_until_due", tis["wait_until_due"]["try_number"])

    # -- a native procedure DAG: its RAISE NOTICE is in the task log
    notice = wait_until(lambda: [run for run in deployment.runs("live.notice")
                                 if run["state"] in ("success", "failed")], 90, "the scheduler's live.notice run")[0]
    assert notice["state"] == "success"
    tis = deployment.task_instances("live.notice", notice["dag_run_id"])
    assert "notice from the crontabber live test" in deployment.log("live.notice", notice["dag_run_id"], "notice",
                                                                   tis["notice"]["try_number"])

    # -- the web UI, as an operator sees it
    from tests.live_browser import screenshots

    shots = {"airflow-dag-list.png": ("/dags?tags=crontabber", "live.parent"),
             "airflow-graph.png": ("/dags/live.child", "wait_for_parent")}
    folder = deployment.home / "screenshots"
    folder.mkdir()
    screenshots(deployment.base, deployment.token(),
                [(path, text, folder / name) for name, (path, text) in shots.items()],
                local_storage={"default_dag_view": '"graph"'})
    for name in shots:
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (folder / name).stat().st_size > 20_000
        if os.environ.get("CRONTABBER_UPDATE_SCREENSHOTS"):  # refresh the ones docs/airflow.md shows
            (DOCS / name).write_bytes((folder / name).read_bytes())


def timeline(deployment, ini, ledger, schema, record, queue, cron, side) -> None:
    t0 = time.monotonic()
    # -- cron runs parent and child; the cutover goes to the ledger's next run, as `list` shows it
    first = wait_until(lambda: ledger_next_run(ledger, "parent"), 100, "the cron runner's first parent run")
    cutover = first if (first - dt.datetime.now(UTC)).total_seconds() >= 25 else first + dt.timedelta(minutes=1)
    write_atomically(ini, ini_text(ledger, schema, cutover.isoformat(), cutover.isoformat()))
    print(f"cutover at {cutover.isoformat()} (the parent's next run {first.isoformat()})")

    # -- Airflow runs parent and child for two intervals; no unpause, no re-export
    def airflow_runs(name: str) -> int:
        return sum(side == "airflow" for side, _, _ in runs_of(recorded(record), name))

    wait_until(lambda: airflow_runs("parent") >= 2 and airflow_runs("child") >= 2,
               (cutover - dt.datetime.now(UTC)).total_seconds() + 200, "two Airflow runs of parent and child")
    # -- rollback: an ini edit again (on_airflow_since moved a day ahead); then Celery takes the tasks
    rollback = dt.datetime.now(UTC)
    later = (rollback + dt.timedelta(days=1)).replace(microsecond=0)
    write_atomically(ini, ini_text(ledger, schema, later.isoformat(), later.isoformat()))
    print(f"rollback at {rollback.isoformat()}, {time.monotonic() - t0:.0f} s into the timeline")
    side.result()
    on_celery(deployment, queue, record)
    wait_until(lambda: all(any(side == "cron" and when > rollback for side, _, when in runs_of(recorded(record), n))
                           for n in ("parent", "child")), 150, "cron to run parent and child after the rollback")
    cron.stop()
    check_every_interval_once(recorded(record), cutover, rollback)
    check_skipped_runs(deployment, later)
    check_deferred(deployment)
    print(f"timeline done after {time.monotonic() - t0:.0f} s")


def on_celery(deployment: Deployment, queue: str, record: Path) -> None:
    """The same DAGs on CeleryExecutor: the scheduler restarted with it, one worker on our queue."""
    deployment.end("scheduler")
    celery = {"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"}
    deployment.start("scheduler", "scheduler", env=celery)
    deployment.start("celery-worker", "celery", "worker", "--queues", queue, "--concurrency", "2",
                     "--skip-serve-logs", "--celery-hostname", f"{queue}@%h",
                     env={**celery, "LIVE_EXECUTOR": "celery"})
    run_id = deployment.trigger("live.hourly", {"force": True})
    run = deployment.finished("live.hourly", run_id, 150)
    assert run["state"] == "success"
    assert [executor for _, executor, _ in runs_of(recorded(record), "hourly")][-1] == "celery"
    worker_log = (deployment.home / "celery-worker.log").read_text(errors="replace")
    assert "live.hourly" in worker_log


def check_every_interval_once(rows, cutover: dt.datetime, rollback: dt.datetime) -> None:
    """Every 1-minute interval ran once across cron and Airflow: each run starts a full interval
    (60 s) after the one before, and less than two intervals after it (none lost)."""
    for name in ("parent", "child"):
        runs = runs_of(rows, name)
        starts = [when for _, _, when in runs]
        gaps = [(later - earlier).total_seconds() for earlier, later in zip(starts, starts[1:])]
        summary = [(side, executor, when.strftime("%H:%M:%S")) for side, executor, when in runs]
        print(f"{name}: {summary}; gaps {[round(gap, 1) for gap in gaps]}")
        assert all(59.0 <= gap < 119.0 for gap in gaps), (name, summary, gaps)
        for side, _, when in runs:  # (an Airflow run under way at the rollback edit may finish it)
            if not rollback <= when < rollback + dt.timedelta(seconds=5):
                assert side == ("airflow" if cutover <= when < rollback else "cron"), (name, side, when, summary)
        sides = [side for side, _, _ in runs]
        assert sides.count("airflow") >= 2 and sides[0] == "cron" and sides[-1] == "cron", summary
    parent_airflow = [when for side, _, when in runs_of(rows, "parent") if side == "airflow"]
    assert parent_airflow[0] >= cutover, "the first Airflow run is the one at the ledger's next run"
    print(f"first Airflow run of parent {(parent_airflow[0] - cutover).total_seconds():.1f} s after the cutover")
    parent = [when for _, _, when in runs_of(rows, "parent")]
    for _, _, when in runs_of(rows, "child"):  # each child run follows a parent run of the same interval
        latest = max(parent_when for parent_when in parent if parent_when < when)
        assert (when - latest).total_seconds() < 60, (when, latest)


def check_deferred(deployment: Deployment) -> None:
    """The ledger sensors deferred to the triggerer while they waited (no worker slot held)."""
    logs, retried = [], []
    for dag_id, task_id in (("live.parent", "wait_until_due"), ("live.child", "wait_for_parent")):
        for run in deployment.runs(dag_id):
            tis = deployment.task_instances(dag_id, run["dag_run_id"])
            retried += [(dag_id, ti["task_id"], ti["try_number"]) for ti in tis.values() if ti["try_number"] > 1]
            ti = tis.get(task_id)
            if ti and ti["state"] == "success":
                logs.append(deployment.log(dag_id, run["dag_run_id"], task_id, ti["try_number"]))
    assert not retried, f"tasks ran more than once (killed or failed): {retried}"
    deferred = sum("Pausing task as DEFERRED" in text for text in logs)
    print(f"{deferred} of {len(logs)} ledger sensors that ran their job's interval deferred to the triggerer")
    assert deferred, logs[:1]


def check_skipped_runs(deployment: Deployment, later: dt.datetime) -> None:
    """Runs before the cutover and after the rollback ended at once as skipped, and say why."""
    messages = []
    for run in deployment.runs("live.parent"):
        tis = deployment.task_instances("live.parent", run["dag_run_id"])
        gate = tis.get("wait_until_due")
        if gate and gate["state"] == "skipped":
            messages.append(deployment.log("live.parent", run["dag_run_id"], "wait_until_due", gate["try_number"]))
    rolled_back = f"cron runs this job until {later:%Y-%m-%d %H:%M:%S} UTC"
    before = [text for text in messages if "cron runs this job" in text and rolled_back not in text]
    after = [text for text in messages if rolled_back in text]
    print(f"live.parent: {len(before)} runs skipped before the cutover, {len(after)} after the rollback")
    assert before and after, messages[-3:]
