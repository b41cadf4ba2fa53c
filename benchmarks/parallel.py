"""Parallel efficiency: 32 independent 1-second jobs with ``--max-workers 8`` (ideal: 4 s).

Efficiency = ideal / whole-process wall time (interpreter start and ledger writes included);
the table also shows it without the fixed start-up cost (the same runner's idle tick, timed
right after). Each repetition first makes every job due again (untimed).

    python -m benchmarks.parallel [--jobs 32] [--workers 8] [--seconds 1] [--repeats 3]
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

from benchmarks import common
from benchmarks.jobset import JobSet
from benchmarks.tick import setup

TARGET = 0.9


def measure(count: int, workers: int, seconds: float, ledgers: list[str],
            repeats: int) -> dict[str, tuple[float, float]]:
    """Median whole-process wall time of a tick of ``count`` due sleeping jobs and of the idle
    tick after it, per ledger."""
    with JobSet(count, ledgers, None, sleep=seconds) as jobs:
        runners = {f"ours-{ledger}": jobs.ours(ledger, "--max-workers", str(workers)) for ledger in ledgers}
        return jobs.due_and_idle(runners, repeats)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the parallel-efficiency table."""
    parser = common.base_parser(__doc__.splitlines()[0], repeats=3)
    parser.add_argument("--jobs", type=int, default=32)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=1.0, help="how long each job sleeps")
    args = parser.parse_args(argv)
    count, seconds = (4, 0.2) if args.quick else (args.jobs, args.seconds)
    workers = 2 if args.quick else args.workers
    repeats = 1 if args.quick else args.repeats
    args.no_original = True
    print(f"machine: {common.machine()}")
    ledgers, _ = setup(args)
    ideal = math.ceil(count / workers) * seconds
    results = measure(count, workers, seconds, ledgers, repeats)
    out = common.Table(f"Parallel efficiency: {count} independent {seconds:g}-second jobs, "
                       f"--max-workers {workers}, whole process, median",
                       ["ledger", "wall time", "ideal", "efficiency", "idle tick", "without start-up",
                        "target", "status"])
    for name, (wall, idle) in results.items():
        efficiency = ideal / wall
        out.add(name, f"{wall:.3f} s", f"{ideal:.3f} s", f"{efficiency:.3f}", common.ms(idle),
                f"{ideal / (wall - idle):.3f}", f">= {TARGET}", common.verdict(efficiency >= TARGET))
    print(out.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
