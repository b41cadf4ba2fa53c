"""Cost per executed no-op job: a tick with 200 due jobs against the idle tick of the same set.

Each repetition moves every ``next_run`` into the past (untimed), times one tick of each
runner (all 200 jobs run), then one more tick of each (nothing due). Per job =
(median due tick - median idle tick) / jobs. The log is checked to hold exactly one
success per job per due tick.

    python -m benchmarks.per_job [--jobs 200] [--repeats 7] [--no-original]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from benchmarks import common
from benchmarks.jobset import JobSet
from benchmarks.original import Original
from benchmarks.tick import add_original_options, setup

TARGET_POSTGRES = 0.001  # seconds per job


def measure(count: int, ledgers: list[str], original: Original | None,
            repeats: int) -> dict[str, tuple[float, float]]:
    """Median (due tick, idle tick) wall time of each runner."""
    with JobSet(count, ledgers, original) as jobs:
        return jobs.due_and_idle(jobs.runners(), repeats, warmups=2)


def table(count: int, results: dict[str, tuple[float, float]]) -> common.Table:
    """The per-job table, one row per runner, with the ratio to 0.18.1."""
    out = common.Table(f"Cost per executed no-op job ({count} due jobs), whole process, median",
                       ["runner", "due tick", "idle tick", "per job", "vs 0.18.1", "target", "status"])
    per_job = {name: (due - idle) / count for name, (due, idle) in results.items()}
    theirs = per_job.get("0.18.1-postgresql")
    for name, (due, idle) in results.items():
        ratio = f"{per_job[name] / theirs:.2f}" if theirs else "-"
        goal, met = ("", None)
        if name == "ours-postgresql":
            goal, met = "< 1 ms", per_job[name] < TARGET_POSTGRES
        out.add(name, common.ms(due), common.ms(idle), f"{per_job[name] * 1000:.3f} ms", ratio,
                goal or "-", common.verdict(met) if goal else "")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the per-job table."""
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200, help="how many due no-op jobs")
    add_original_options(parser)
    args = parser.parse_args(argv)
    count = 10 if args.quick else args.jobs
    repeats = 1 if args.quick else args.repeats
    print(f"machine: {common.machine()}")
    ledgers, original = setup(args)
    print(table(count, measure(count, ledgers, original, repeats)).render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
