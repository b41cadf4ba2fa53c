"""Seeing the jobs at scale: what the heartbeat adds to a tick, and what the views cost for N jobs.

A configuration of N config-declared jobs (a forest: every fifth job a root, the others
depending on an earlier one, three tags, a tenth of them past their cutover) over a ledger
whose rows and last 10 log rows are written directly, in every state. Prints the median of
``--repeats`` runs of each step; ``--svg FILE`` keeps the N-job picture to look at.

    python -m benchmarks.views [--jobs 200] [--repeats 5] [--no-postgres] [--svg FILE]
"""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks import common
from crontabber.config.settings import load_settings
from crontabber.outcomes import Outcome
from crontabber.state import JobState, LogEntry, open_ledger
from crontabber.views import graph, metrics, snapshot, status_page

NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.timezone.utc)


def write_config(folder: Path, count: int, ledger: str) -> Path:
    lines = ["[crontabber]", f"database_url = {ledger}", "jobs = '''"]
    lines += [f"    job:job-{n:04d}|1h" for n in range(count)]
    lines.append("'''")
    for n in range(count):
        lines.append(f"    [[job-job-{n:04d}]]")
        lines.append("    command = true")
        lines.append(f"    tags = {('etl', 'reports', 'maintenance')[n % 3]}")
        if n % 5:
            lines.append(f"    depends_on = job-{(n * 7 // 10) // 5 * 5:04d}" if n > 4 else "    depends_on = job-0000")
        if n % 10 == 9:
            lines.append(f"    on_airflow_since = {(NOW - dt.timedelta(days=1)).isoformat()}")
    path = folder / "crontabber.ini"
    path.write_text("\n".join(lines) + "\n")
    return path


def fill_ledger(url: str, count: int) -> None:
    ledger = open_ledger(url)
    try:
        for n in range(count):
            name = f"job-{n:04d}"
            failing = n % 7 == 3
            ledger.save(JobState(name, next_run=NOW + dt.timedelta(minutes=n % 60), last_run=NOW,
                                 last_success=None if failing else NOW, error_count=3 if failing else 0,
                                 last_error={"type": "ShellCommandFailed", "value": "exit code 2",
                                             "traceback": "..."} if failing else {},
                                 ongoing=NOW if n % 11 == 5 else None))
            for k in range(10):
                ok = not failing or k > 2
                ledger.save(JobState(name, next_run=NOW, last_run=NOW, last_success=NOW,
                                     error_count=3 if failing else 0), LogEntry(
                    name, NOW - dt.timedelta(hours=k), 1.5, Outcome.SUCCEEDED if ok else Outcome.FAILED,
                    success=NOW if ok else None))
            if failing:  # the last save left the failing row as a success: put it back
                ledger.save(JobState(name, next_run=NOW, last_run=NOW, error_count=3,
                                     last_error={"type": "ShellCommandFailed", "value": "exit code 2"}))
    finally:
        ledger.close()


def median(step: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(url: str, folder: Path, count: int, repeats: int, svg: Path | None) -> list[tuple[str, float]]:
    fill_ledger(url, count)
    settings = load_settings(write_config(folder, count, url), {}, {})
    ledger = open_ledger(url)
    try:
        beats = iter(range(10**6))
        heartbeat = median(lambda: ledger.beat("bench", NOW + dt.timedelta(seconds=next(beats)), 0.1), repeats * 20)
        read = median(lambda: snapshot.read(settings, ledger, NOW), repeats)
        shot = snapshot.read(settings, ledger, NOW)
    finally:
        ledger.close()
    dot_text = graph.to_dot(shot, "tag")
    steps = [("heartbeat statement (one per tick)", heartbeat), (f"read the snapshot ({count} jobs + logs)", read),
             ("DOT text", median(lambda: graph.to_dot(shot, "tag"), repeats)),
             ("Mermaid text", median(lambda: graph.to_mermaid(shot, "tag"), repeats)),
             ("status page HTML (without the picture)", median(lambda: _page_without_dot(shot), repeats)),
             ("metrics text", median(lambda: metrics.render(shot), repeats))]
    if graph.dot_path():
        steps.append(("SVG through Graphviz dot", median(lambda: graph.render(dot_text, "svg"), max(repeats // 2, 1))))
        if svg is not None:
            svg.write_bytes(graph.render(dot_text, "svg"))
    return steps


def _page_without_dot(shot: snapshot.Snapshot) -> str:
    saved = graph.dot_path
    graph.dot_path = lambda: None  # type: ignore[assignment]
    try:
        return status_page.render(shot)
    finally:
        graph.dot_path = saved  # type: ignore[assignment]


def main(argv: Sequence[str] | None = None) -> int:
    parser = common.base_parser(__doc__.splitlines()[0], repeats=5)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--svg", type=Path, help="keep the N-job graph picture here")
    args = parser.parse_args(argv)
    if args.quick:
        args.jobs, args.repeats = 20, 1
    print(f"# views, {args.jobs} jobs; {common.machine()}")
    stores = [("sqlite", None)]
    if not args.no_postgres and common.postgres_problem() is None:
        stores.append(("postgres", "crontabber_bench_views"))
    for store, dbname in stores:
        with tempfile.TemporaryDirectory() as folder:
            if dbname:
                common.recreate_database(dbname)
                url = common.database_url(dbname)
            else:
                url = f"sqlite:///{Path(folder) / 'ledger.sqlite'}"
            for name, seconds in measure(url, Path(folder), args.jobs, args.repeats, args.svg):
                print(f"{store:9} {name:45} {common.ms(seconds):>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
