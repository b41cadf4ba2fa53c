"""Parse time of a generated DAG file next to a minimal hand-written DAG with the same tasks,
and the time to export 1,000 jobs.

    python benchmarks/dag_parse.py

Parse times are measured as the dag-processor pays them once Airflow is imported:
compile and execute the file, best and median of N rounds, in one warm process.
"""

from __future__ import annotations

import atexit
import os
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROUNDS = 50
HAND_WRITTEN = '''
import datetime

from airflow.sdk import DAG, DeltaTriggerTimetable, Param

from airflow_bridge.operators import CrontabberJobOperator
from airflow_bridge.sensors import LedgerDueSensor, LedgerSensor

with DAG(dag_id="after-hello", schedule=DeltaTriggerTimetable(datetime.timedelta(minutes=5)),
         params={"force": Param(False, type="boolean"), "date": Param(None, type=["null", "string"])},
         default_args={"retries": 1, "retry_delay": datetime.timedelta(minutes=5)}) as dag:
    due = LedgerDueSensor(task_id="wait_until_due", app_name="after-hello", poke_interval=15, timeout=600,
                          soft_fail=True)
    wait = LedgerSensor(task_id="wait_for_hello", app_name="after-hello", parent="hello",
                        mode="poke", poke_interval=15, timeout=300, soft_fail=True)
    due >> wait >> CrontabberJobOperator(task_id="after-hello", app_name="after-hello")
'''


def parse_times(source: str, name: str) -> list[float]:
    """Seconds to compile and run ``source`` as a DAG file, per round."""
    times = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        code = compile(source, name, "exec")
        exec(code, {"__name__": f"bench_{len(times)}"})
        times.append(time.perf_counter() - t0)
    return times


def export_thousand(folder: Path) -> tuple[float, float, int]:
    """(seconds to load a 1,000-job config, seconds to export it, bytes written)."""
    from airflow_bridge.export import export
    from crontabber.config.settings import load_settings

    jobs = "\n".join(f"    job:job{index:04d}|{'1h' if index % 3 else '30 2 * * *'}" for index in range(1000))
    sections = "".join(f"    [[job-job{index:04d}]]\n    command = ./run.sh {index}\n"
                       + (f"    depends_on = job{index - 1:04d}\n" if index % 3 == 1 else "")
                       for index in range(1000))
    ini = folder / "thousand.ini"
    ini.write_text(f"[crontabber]\ntimezone = Europe/Berlin\njobs = '''\n{jobs}\n'''\n{sections}")
    t0 = time.perf_counter()
    settings = load_settings(ini, {}, {})
    t1 = time.perf_counter()
    result = export(settings, "bridge")
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, sum(len(text.encode()) for text in result.files.values())


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="dag-parse-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)  # leave nothing in /tmp
    os.environ.setdefault("AIRFLOW_HOME", str(home))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from airflow_bridge.export import export
    from crontabber.config.settings import load_settings

    repo = Path(__file__).resolve().parent.parent
    settings = load_settings(repo / "crontabber" / "examples" / "crontabber.ini", {}, {})
    generated = export(settings, "bridge", ["after-hello"]).files["after-hello.py"]
    t0 = time.perf_counter()
    import airflow.sdk  # noqa: F401  (warm: what every parse shares)

    import airflow_bridge.operators  # noqa: F401
    import airflow_bridge.sensors  # noqa: F401
    warm = time.perf_counter() - t0
    print(f"importing Airflow and the bridge operators once: {warm * 1000:.0f} ms")
    for label, source in (("generated (after-hello.py)", generated), ("hand-written, same tasks", HAND_WRITTEN)):
        times = parse_times(textwrap.dedent(source), label)
        print(f"{label:30s} parse: median {statistics.median(times) * 1000:.2f} ms, "
              f"best {min(times) * 1000:.2f} ms ({ROUNDS} rounds)")
    load, took, size = export_thousand(home)
    print(f"1,000 jobs: config load {load:.2f} s, export {took:.2f} s ({size / 1e6:.1f} MB of DAG source)")


if __name__ == "__main__":
    main()
