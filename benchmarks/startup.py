"""Cold start: ``crontabber --version`` and ``crontabber list`` (200 jobs) next to ``python -c pass``.

The 200 generated jobs have run once, so ``list`` shows a ledger row for each. An untimed
run of the same ``list`` then checks that no Airflow module was imported on that path.

    python -m benchmarks.startup [--jobs 200] [--repeats 9] [--no-original]
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks import common
from benchmarks.jobset import JobSet
from benchmarks.tick import add_original_options, setup

LIST_TARGET = 0.150
AIRFLOW_CHECK = """
import json, sys
from crontabber.cli.main import main
import io
code = main(sys.argv[1:], out=io.StringIO(), err=io.StringIO())
print(json.dumps([code, sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'airflow_bridge'))]))
"""


def airflow_modules(jobs: JobSet, ledger: str) -> list[str]:
    """The Airflow (and bridge) modules ``crontabber list`` imports (it should import none)."""
    argv = [sys.executable, "-c", AIRFLOW_CHECK, "list", f"--admin.conf={jobs.inis[ledger]}"]
    done = subprocess.run(argv, env=jobs.ours_env, cwd=jobs.folder, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"list failed: {done.stderr.strip()[-500:]}")
    code, modules = json.loads(done.stdout.strip().splitlines()[-1])
    if code != 0:
        raise RuntimeError(f"list exited {code}")
    return modules


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the cold-start table."""
    parser = common.base_parser(__doc__.splitlines()[0], repeats=9)
    parser.add_argument("--jobs", type=int, default=200)
    add_original_options(parser)
    args = parser.parse_args(argv)
    count = 10 if args.quick else args.jobs
    repeats = 1 if args.quick else args.repeats
    print(f"machine: {common.machine()}")
    ledgers, original = setup(args)
    with JobSet(count, ledgers, original) as jobs:
        env = common.child_env()
        measures = {"python -c pass": lambda: common.run_process([sys.executable, "-c", "pass"], env,
                                                                  cwd=Path(jobs.folder)),
                    "crontabber --version": jobs.ours(ledgers[0], "--version")}
        measures.update({f"crontabber list ({ledger})": jobs.ours(ledger, "list") for ledger in ledgers})
        for runner in jobs.runners().values():
            runner()  # every job runs once: list shows a row for each
        if original is not None:
            measures["python2.7 -c pass"] = lambda: common.run_process([original.python, "-c", "pass"],
                                                                       env, cwd=Path(jobs.folder))
            measures["0.18.1 --version"] = jobs.theirs("--version")
            measures["0.18.1 --list-jobs"] = jobs.theirs("--list-jobs")
        for measure in measures.values():
            measure()
        results = common.interleaved(measures, repeats)
        imported = {ledger: airflow_modules(jobs, ledger) for ledger in ledgers}
    out = common.Table(f"Cold start, whole process, median ({count} configured jobs)",
                       ["command", "wall time", "over interpreter start", "target", "status"])
    for name, value in results.items():
        base = results["python2.7 -c pass" if name.startswith(("0.18.1", "python2")) else "python -c pass"]
        goal, met = "", None
        if name.startswith("crontabber list") and count == 200:
            goal, met = "< 150 ms", value < LIST_TARGET
        out.add(name, common.ms(value), common.ms(value - base) if "pass" not in name else "",
                goal or "-", common.verdict(met) if goal else "")
    print(out.render())
    for ledger, modules in imported.items():
        verdict = "none (met)" if not modules else f"{', '.join(modules)} (MISSED)"
        print(f"Airflow modules imported by 'crontabber list' ({ledger}): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
