"""Idle tick: the whole-process cost of a cron-started runner when nothing is due.

For each size, a generated module of no-op jobs (no ``required_config``) is run once (every
job runs, which creates its ledger row) and once more (warm-up: ``.pyc`` files); then the
median of ``--repeats`` idle ticks of each runner, taken in turns. The log must not grow
while timing (proof that nothing ran).

    python -m benchmarks.tick [--sizes 10,200,1000,10000] [--repeats 7] [--no-original]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from benchmarks import common
from benchmarks.jobset import JobSet
from benchmarks.original import Original, locate

HALF_OF_ORIGINAL_AT = 200
UNDER_ONE_SECOND_AT = 10_000


def interpreter_baselines(original: Original | None, repeats: int) -> dict[str, float]:
    """``python -c pass`` of our interpreter (and of Python 2.7 when the original runs)."""
    env = common.child_env()
    measures = {"python3 -c pass": lambda: common.run_process([sys.executable, "-c", "pass"], env)}
    if original is not None:
        measures["python2.7 -c pass"] = lambda: common.run_process([original.python, "-c", "pass"], env)
    for measure in measures.values():
        measure()
    return common.interleaved(measures, repeats)


def measure(sizes: Sequence[int], ledgers: list[str], original: Original | None,
            repeats: int) -> dict[int, dict[str, float]]:
    """Median idle-tick wall time of each runner, per size."""
    results: dict[int, dict[str, float]] = {}
    for size in sizes:
        with JobSet(size, ledgers, original) as jobs:
            runners = jobs.runners()
            for runner in runners.values():
                runner()  # every job runs: rows exist, nothing is due afterwards
                runner()  # warm-up of the idle path
            jobs.expect_successes(size)
            results[size] = common.interleaved(runners, repeats)
            jobs.expect_successes(size)
        print(f"  {size} jobs: " + ", ".join(f"{k} {common.ms(v)}" for k, v in results[size].items()),
              file=sys.stderr, flush=True)
    return results


def target(size: int, figures: dict[str, float]) -> tuple[str, bool | None]:
    """The target of a row and whether it is met."""
    if size == HALF_OF_ORIGINAL_AT:
        theirs = figures.get("0.18.1-postgresql")
        ours = figures.get("ours-postgresql")
        met = None if theirs is None or ours is None else ours <= theirs / 2
        return "PostgreSQL <= 0.5 x 0.18.1", met
    if size == UNDER_ONE_SECOND_AT:
        ours = [figures[name] for name in ("ours-sqlite", "ours-postgresql") if name in figures]
        return "< 1 s (each ledger)", all(value < 1.0 for value in ours)
    return "", None


def table(results: dict[int, dict[str, float]], baselines: dict[str, float]) -> common.Table:
    """The idle-tick table, one row per size."""
    out = common.Table("Idle tick (nothing due), whole-process wall time, median",
                       ["jobs", "ours SQLite", "ours PostgreSQL", "0.18.1 PostgreSQL",
                        "ours PG / 0.18.1", "target", "status"])
    for size, figures in results.items():
        ours_pg, theirs = figures.get("ours-postgresql"), figures.get("0.18.1-postgresql")
        ratio = f"{ours_pg / theirs:.2f}" if ours_pg and theirs else "-"
        goal, met = target(size, figures)
        out.add(size, common.ms(figures.get("ours-sqlite")), common.ms(ours_pg), common.ms(theirs),
                ratio, goal or "-", common.verdict(met) if goal else "")
    for name, value in baselines.items():
        out.add(name, common.ms(value), "", "", "", "(interpreter start)", "")
    return out


def growth(results: dict[int, dict[str, float]]) -> common.Table:
    """Cost per configured job between the smallest and the largest size."""
    sizes = sorted(results)
    out = common.Table(f"Idle tick growth per configured job ({sizes[0]} -> {sizes[-1]} jobs)",
                       ["runner", "fixed cost (smallest)", "per configured job"])
    if len(sizes) < 2:
        return out
    low, high = sizes[0], sizes[-1]
    for name in results[low]:
        if name in results[high]:
            slope = (results[high][name] - results[low][name]) / (high - low)
            out.add(name, common.ms(results[low][name]), f"{slope * 1e6:.1f} us")
    return out


def setup(args) -> tuple[list[str], Original | None]:  # type: ignore[no-untyped-def]
    """The ledgers to measure and the baseline, each announced (or why it is missing)."""
    ledgers = ["sqlite"]
    problem = None if args.no_postgres else common.postgres_problem()
    if args.no_postgres:
        print("PostgreSQL not measured (--no-postgres)")
    elif problem:
        print(f"PostgreSQL NOT measured: {problem}")
    else:
        ledgers.append("postgresql")
    original = None
    if getattr(args, "no_original", False):
        print("crontabber 0.18.1 NOT measured (--no-original)")
    elif "postgresql" not in ledgers:
        print("crontabber 0.18.1 NOT measured: it needs the PostgreSQL server")
    else:
        original, where = locate(getattr(args, "python2", None))
        print(where)
    return ledgers, original


def add_original_options(parser) -> None:  # type: ignore[no-untyped-def]
    """--python2 and --no-original."""
    parser.add_argument("--python2", help="the Python 2.7 interpreter that runs crontabber 0.18.1")
    parser.add_argument("--no-original", action="store_true", help="do not run crontabber 0.18.1")


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the idle-tick table."""
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,200,1000,10000", help="comma-separated job counts")
    add_original_options(parser)
    args = parser.parse_args(argv)
    sizes = [10] if args.quick else [int(size) for size in args.sizes.split(",")]
    repeats = 1 if args.quick else args.repeats
    print(f"machine: {common.machine()}")
    ledgers, original = setup(args)
    baselines = interpreter_baselines(original, repeats)
    results = measure(sizes, ledgers, original, repeats)
    print(table(results, baselines).render())
    print(growth(results).render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
