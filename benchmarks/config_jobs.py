"""Jobs declared in the ini (``job:<name>`` + ``[[job-<name>]]``) beside the same number of job
classes: idle tick, ``configtest`` and peak memory, whole process, each ledger.

A migrated crontab estate is the first shape (``import-crontab`` writes one section per crontab
line). Each set runs once (every job runs, creating its ledger row) and once more (warm-up);
then the median of ``--repeats`` idle ticks and of ``configtest`` runs, taken in turns; the
peak resident set size is the largest of those runs. The log must not grow while timing.

    python -m benchmarks.config_jobs [--sizes 1000,10000] [--repeats 5] [--no-postgres]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import common

IDLE_LIMIT = 1.0  # seconds, 10,000 config-declared jobs, each ledger
RSS_LIMIT = 150  # MB
CONFIGTEST_LIMIT = 2.0  # seconds
TARGET_SIZE = 10_000


def write_config_ini(folder: Path, count: int, url: str) -> Path:
    """``count`` shell jobs declared in the ini, as import-crontab writes them."""
    lines = ["[crontabber]", f"database_url = {url}", "jobs = '''"]
    lines += [f"    job:job{index:05d}|1d" for index in range(count)]
    lines.append("'''")
    for index in range(count):
        lines += [f"    [[job-job{index:05d}]]", "    command = true"]
    path = folder / f"config-{count}.ini"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_measured(argv: Sequence[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one whole process."""
    started = time.perf_counter()
    proc = subprocess.Popen(list(argv), env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    stderr = proc.stderr.read().decode(errors="replace")  # until the process closes it (exits)
    proc.stderr.close()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {code}: {stderr.strip()[-800:]}")
    return elapsed, usage.ru_maxrss / 1024


def log_rows(url: str) -> int:
    """How many log rows the ledger holds (proof that timed idle ticks ran nothing)."""
    if url.startswith("sqlite"):
        import sqlite3

        connection = sqlite3.connect(url[len("sqlite:///"):])
        try:
            return connection.execute("SELECT count(*) FROM crontabber_log").fetchone()[0]
        finally:
            connection.close()
    connection = common.pg_connect(common.OURS_DB)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM crontabber_log")
            return cursor.fetchone()[0]
    finally:
        connection.close()


def measure_set(kind: str, size: int, ledger: str, repeats: int) -> dict[str, float]:
    """Idle tick and configtest medians and the peak RSS of one job set on one ledger."""
    with tempfile.TemporaryDirectory(prefix=f"crontabber-bench-{kind}-") as tmp:
        folder = Path(tmp)
        if ledger == "postgresql":
            common.recreate_database(common.OURS_DB)
        url = f"sqlite:///{folder / 'ledger.sqlite'}" if ledger == "sqlite" else common.database_url(common.OURS_DB)
        if kind == "config":
            ini, env = write_config_ini(folder, size, url), common.child_env()
        else:
            module = common.write_job_module(folder, size)
            ini = common.write_ours_ini(folder, module, size, ledger)
            env = common.child_env([folder])
        tick = [*common.crontabber_command(), f"--admin.conf={ini}"]
        configtest = [*common.crontabber_command(), "configtest", f"--admin.conf={ini}"]
        for _ in range(2):  # every job runs once, then a warm-up of the idle path
            run_measured(tick, env, folder)
        rows = log_rows(url)
        idle, checks, peak = [], [], 0.0
        for _ in range(repeats):
            wall, rss = run_measured(tick, env, folder)
            idle.append(wall)
            peak = max(peak, rss)
            wall, rss = run_measured(configtest, env, folder)
            checks.append(wall)
            peak = max(peak, rss)
        if log_rows(url) != rows or rows < size:
            raise RuntimeError(f"{kind} {ledger}: the log went from {rows} to {log_rows(url)} rows "
                               f"while timing idle ticks of {size} jobs")
    return {"idle": statistics.median(idle), "configtest": statistics.median(checks), "rss": peak}


def table(results: dict[tuple[int, str, str], dict[str, float]]) -> common.Table:
    """One row per size, kind and ledger, with the targets of the 10,000 config-declared jobs."""
    out = common.Table("Jobs declared in the ini vs job classes: idle tick, configtest (median), peak RSS",
                       ["jobs", "declared as", "ledger", "idle tick", "configtest", "peak RSS", "target", "status"])
    for (size, kind, ledger), figures in results.items():
        goal, met = "", None
        if size == TARGET_SIZE and kind == "config":
            goal = f"idle < {IDLE_LIMIT:g} s, configtest < {CONFIGTEST_LIMIT:g} s, RSS < {RSS_LIMIT} MB"
            met = (figures["idle"] < IDLE_LIMIT and figures["configtest"] < CONFIGTEST_LIMIT
                   and figures["rss"] < RSS_LIMIT)
        out.add(size, "ini section" if kind == "config" else "class", ledger, common.ms(figures["idle"]),
                common.ms(figures["configtest"]), f"{figures['rss']:.0f} MB", goal or "-",
                common.verdict(met) if goal else "")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the table."""
    parser = common.base_parser(__doc__.splitlines()[0], repeats=5)
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated job counts")
    args = parser.parse_args(argv)
    sizes = [10] if args.quick else [int(size) for size in args.sizes.split(",")]
    repeats = 1 if args.quick else args.repeats
    print(f"machine: {common.machine()}")
    ledgers = ["sqlite"]
    problem = None if args.no_postgres else common.postgres_problem()
    if problem:
        print(f"PostgreSQL NOT measured: {problem}")
    elif not args.no_postgres:
        ledgers.append("postgresql")
    results = {}
    for size in sizes:
        for kind in ("config", "class"):
            for ledger in ledgers:
                results[(size, kind, ledger)] = figures = measure_set(kind, size, ledger, repeats)
                print(f"  {size} {kind} {ledger}: idle {common.ms(figures['idle'])}, configtest "
                      f"{common.ms(figures['configtest'])}, {figures['rss']:.0f} MB", file=sys.stderr, flush=True)
    print(table(results).render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
