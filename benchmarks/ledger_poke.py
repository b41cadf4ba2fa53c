"""Cost of one ledger-sensor poke (what bounds the generated ``poke_interval`` from below).

A poke of ``LedgerSensor`` / ``LedgerDueSensor`` reads the (cached) settings, opens the
ledger, loads one or two rows and closes it. This measures that, on SQLite and on
PostgreSQL, as wall time and CPU time per poke, and prints the poke interval at which
one waiting sensor spends 1% of a core (``airflow_bridge.mapping.POKE_FLOOR`` must stay
above it).

    python -m benchmarks.ledger_poke [--quick] [--no-postgres]
"""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import common

BUDGET = 0.01  # the share of one core a waiting sensor may spend poking


def write_ini(folder: Path, url: str) -> Path:
    path = folder / "poke.ini"
    path.write_text("[crontabber]\n"
                    f"database_url = {url}\n"
                    "jobs = '''\n    job:parent|1m\n    job:child|1m\n'''\n"
                    "  [[job-parent]]\n    command = true\n"
                    "  [[job-child]]\n    command = true\n    depends_on = parent\n"
                    "    on_airflow_since = 2000-01-01T00:00:00Z\n", encoding="utf-8")
    return path


def measure(path: Path, rounds: int) -> dict[str, tuple[float, float]]:
    """kind -> (median wall seconds, median CPU seconds) per poke."""
    from airflow_bridge import runtime
    from airflow_bridge.handover import Run
    from crontabber.clock import SystemClock
    from crontabber.runner import Runner
    from crontabber.state import open_ledger

    settings = runtime.load_path(str(path))
    ledger = open_ledger(settings.database_url)
    Runner(settings, ledger, SystemClock()).run_job("parent", force=True)  # a row to read
    ledger.close()
    run = Run(instant=dt.datetime.now(dt.timezone.utc))
    pokes = {"parent sensor": lambda: runtime.parent_verdict("child", "parent", str(path)),
             "first step (gate)": lambda: runtime.gate_verdict("child", str(path), run)}
    results = {}
    for name, poke in pokes.items():
        poke()  # warm: settings cached, modules imported
        walls, cpus = [], []
        for _ in range(rounds):
            w0, c0 = time.perf_counter(), time.process_time()
            poke()
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        results[name] = (statistics.median(walls), statistics.median(cpus))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = common.base_parser(__doc__.splitlines()[0], repeats=200)
    args = parser.parse_args(argv)
    rounds = 5 if args.quick else args.repeats
    print(f"machine: {common.machine()}")
    from airflow_bridge.mapping import POKE_FLOOR

    out = common.Table(f"One ledger poke, median of {rounds}", ["ledger", "poke", "wall", "CPU",
                                                                "interval at 1% of a core", "POKE_FLOOR"])
    with tempfile.TemporaryDirectory() as folder:
        ledgers = {"sqlite": f"sqlite:///{Path(folder) / 'ledger.sqlite'}"}
        problem = None if args.no_postgres else common.postgres_problem()
        if not args.no_postgres and problem is None:
            common.recreate_database(common.OURS_DB)
            ledgers["postgresql"] = common.database_url(common.OURS_DB)
        for ledger, url in ledgers.items():
            sub = Path(folder) / ledger
            sub.mkdir()
            for name, (wall, cpu) in measure(write_ini(sub, url), rounds).items():
                out.add(ledger, name, common.ms(wall), common.ms(cpu), f"{max(wall, cpu) / BUDGET:.2f} s",
                        f"{POKE_FLOOR:g} s " + common.verdict(max(wall, cpu) / BUDGET <= POKE_FLOOR))
    print(out.render())
    if problem:
        print(f"PostgreSQL NOT measured: {problem}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
