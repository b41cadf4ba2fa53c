"""Every benchmark in turn, each printing its own table: what docs/performance.md records.

    python -m benchmarks.run_all [--quick] [--no-postgres] [--no-original] [--python2 PATH]

The DAG export and parse figures come from the Airflow bridge's own script,
``benchmarks/dag_parse.py``, run as it is when it is there (it needs Airflow installed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import common, parallel, per_job, startup, tick

DAG_SCRIPT = Path(__file__).with_name("dag_parse.py")


def run_dag_parse(quick: bool) -> int:
    """The bridge's DAG export/parse benchmark in its own process, or why it was not run."""
    if not DAG_SCRIPT.exists():
        print(f"DAG export/parse NOT measured: {DAG_SCRIPT} is not there")
        return 0
    argv = [sys.executable, "-m", "benchmarks.dag_parse", *(["--quick"] if quick else [])]
    return subprocess.run(argv, env=common.child_env([Path(__file__).parent.parent]),
                          cwd=Path(__file__).parent.parent).returncode


def main(argv: Sequence[str] | None = None) -> int:
    """Run every benchmark; the exit code is the first failure's."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat (a smoke test)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-original", action="store_true")
    parser.add_argument("--python2", help="the Python 2.7 interpreter that runs crontabber 0.18.1")
    parser.add_argument("--skip", default="", help="comma-separated: tick,per_job,parallel,startup,dags")
    args = parser.parse_args(argv)
    shared = [flag for flag, on in (("--quick", args.quick), ("--no-postgres", args.no_postgres)) if on]
    original = ["--no-original"] if args.no_original else []
    original += ["--python2", args.python2] if args.python2 else []
    steps = [("tick", lambda: tick.main(shared + original)),
             ("per_job", lambda: per_job.main(shared + original)),
             ("parallel", lambda: parallel.main(shared)),
             ("startup", lambda: startup.main(shared + original)),
             ("dags", lambda: run_dag_parse(args.quick))]
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
