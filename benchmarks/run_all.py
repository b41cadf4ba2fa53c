"""Every benchmark in turn, each printing its own table: what docs/performance.md records.

    python -m benchmarks.run_all [--quick] [--no-postgres] [--no-original] [--python2 PATH]

The DAG export and parse figures come from the Airflow bridge's own script,
``benchmarks/dag_parse.py``, run as it is when it is there (it needs Airflow installed).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import common, config_jobs, parallel, per_job, startup, tick

DAG_SCRIPT = Path(__file__).with_name("dag_parse.py")
DAG_RATIO = 1.2
EXPORT_LIMIT = 5.0


def run_dag_parse() -> int:
    """The bridge's DAG export/parse benchmark in its own process, its output, then its figures
    next to their targets (or why it was not run)."""
    if not DAG_SCRIPT.exists():
        print(f"DAG export/parse NOT measured: {DAG_SCRIPT} is not there")
        return 0
    repo = Path(__file__).parent.parent
    done = subprocess.run([sys.executable, str(DAG_SCRIPT)], env=common.child_env([repo]), cwd=repo,
                          capture_output=True, text=True)
    print(done.stdout, end="")
    if done.returncode != 0:
        print(f"DAG export/parse failed (exit {done.returncode}): {done.stderr.strip()[-800:]}")
        return done.returncode
    print(dag_targets(done.stdout).render())
    return 0


def dag_targets(output: str) -> common.Table:
    """The generated/hand-written parse ratio and the 1,000-job export time, next to their targets."""
    out = common.Table("Airflow bridge figures (from benchmarks/dag_parse.py)",
                       ["figure", "value", "target", "status"])
    medians = [float(value) for value in re.findall(r"parse: median ([0-9.]+) ms", output)]
    if len(medians) == 2:
        ratio = medians[0] / medians[1]
        out.add("generated DAG parse / hand-written", f"{ratio:.2f}", "<= 1.2", common.verdict(ratio <= DAG_RATIO))
    else:
        out.add("generated DAG parse / hand-written", "not found in the output", "<= 1.2", "n/a")
    export = re.search(r"1,000 jobs: config load ([0-9.]+) s, export ([0-9.]+) s", output)
    if export:
        total = float(export.group(1)) + float(export.group(2))
        out.add("1,000 jobs: config load + export", f"{total:.2f} s", "< 5 s", common.verdict(total < EXPORT_LIMIT))
    else:
        out.add("1,000 jobs: config load + export", "not found in the output", "< 5 s", "n/a")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run every benchmark; the exit code is the first failure's."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat (a smoke test)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-original", action="store_true")
    parser.add_argument("--python2", help="the Python 2.7 interpreter that runs crontabber 0.18.1")
    parser.add_argument("--skip", default="", help="comma-separated: tick,config_jobs,per_job,parallel,startup,dags")
    args = parser.parse_args(argv)
    shared = [flag for flag, on in (("--quick", args.quick), ("--no-postgres", args.no_postgres)) if on]
    original = ["--no-original"] if args.no_original else []
    original += ["--python2", args.python2] if args.python2 else []
    steps = [("tick", lambda: tick.main(shared + original)),
             ("config_jobs", lambda: config_jobs.main(shared)),
             ("per_job", lambda: per_job.main(shared + original)),
             ("parallel", lambda: parallel.main(shared)),
             ("startup", lambda: startup.main(shared + original)),
             ("dags", run_dag_parse)]
    skipped = set(filter(None, args.skip.split(",")))
    print(f"started {time.strftime('%Y-%m-%d %H:%M:%S')}, load average {os.getloadavg()[0]:.2f}\n")
    status = 0
    for name, step in steps:
        if name in skipped:
            continue
        print(f"== {name} ==", flush=True)
        code = step()
        status = status or code
        print(flush=True)
    print(f"finished {time.strftime('%Y-%m-%d %H:%M:%S')}, load average {os.getloadavg()[0]:.2f}")
    return status


if __name__ == "__main__":
    sys.exit(main())
