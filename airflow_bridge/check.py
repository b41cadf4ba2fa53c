"""``export-dags --check``: load the files with Airflow's DagBag and serialize every DAG.

DagBag accepts a DAG whose timetable no plugin registers; serialization (what the
dag-processor does next) rejects it. So both steps run, as the dag-processor would.

``run_check`` does it in a child Python whose Airflow writes nothing into the user's
Airflow home: logs go to a temporary folder, and without ``AIRFLOW_HOME`` the home is a
temporary one too (Airflow would otherwise create ``~/airflow``). ``python -m
airflow_bridge.check RESULT FOLDER [FILE...]`` is that child.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from crontabber.errors import UsageError

CHECK_TIMEOUT = 600  # seconds; DagBag parses every file, which takes ~3 s plus ~1 ms per DAG
NEEDS_AIRFLOW = ("export-dags --check needs Apache Airflow 3.3 in this Python environment: "
                 "pip install '.[airflow]' in a clone of crontabber (once published: "
                 "pip install 'crontabber-ng[airflow]'); the export itself needs no Airflow")


def require_airflow() -> None:
    """UsageError (exit 2, one line) when Airflow cannot be imported here."""
    if importlib.util.find_spec("airflow") is None:
        raise UsageError(NEEDS_AIRFLOW)


def run_check(folder: Path, expected: Iterable[Path] = (), environ: Mapping[str, str] | None = None) -> list[str]:
    """``check_folder`` in a child process that leaves the user's Airflow home untouched."""
    require_airflow()
    env = dict(os.environ if environ is None else environ)
    with tempfile.TemporaryDirectory(prefix="crontabber-check-") as scratch:
        scratch_path = Path(scratch)
        if not env.get("AIRFLOW_HOME"):
            env["AIRFLOW_HOME"] = str(scratch_path / "airflow-home")
            (scratch_path / "airflow-home").mkdir()
        env.update({"AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(scratch_path / "logs"),
                    "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
                    "AIRFLOW__CORE__LOAD_EXAMPLES": "False"})
        result = scratch_path / "problems.json"
        command = [sys.executable, "-m", "airflow_bridge.check", str(result), str(folder),
                   *[str(path) for path in expected]]
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=CHECK_TIMEOUT)
        except subprocess.TimeoutExpired:
            return [f"Airflow did not finish loading {folder} within {CHECK_TIMEOUT} s"]
        if done.returncode != 0 or not result.exists():
            lines = (done.stderr or done.stdout).strip().splitlines()
            return [f"Airflow could not load {folder}: {lines[-1] if lines else f'exit code {done.returncode}'}"]
        return json.loads(result.read_text())


def check_folder(folder: Path, expected: Iterable[Path] = ()) -> list[str]:
    """Problems found loading and serializing every DAG under ``folder`` (empty: all good)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(folder), bundle_path=folder, bundle_name="crontabber-check")
    problems = [f"{path}: {error.strip().splitlines()[-1]}" for path, error in sorted(bag.import_errors.items())]
    loaded = {Path(dag.fileloc).resolve() for dag in bag.dags.values()}
    problems += [f"{path.name}: defines no DAG" for path in expected if path.resolve() not in loaded]
    for dag_id, dag in sorted(bag.dags.items()):
        problem = serialization_problem(dag)
        if problem:
            problems.append(f"{dag_id}: {problem}")
    return problems


def serialization_problem(dag: object) -> str | None:
    """Serialize and deserialize ``dag`` as the dag-processor and scheduler do; the error, or None."""
    from airflow.serialization.serialized_objects import DagSerialization, LazyDeserializedDAG

    try:
        data = DagSerialization.to_dict(dag)
        LazyDeserializedDAG(data=data)
        DagSerialization.from_dict(data)
    except Exception as exc:  # any failure here is what the dag-processor would report
        return f"{type(exc).__name__}: {exc}"
    return None


if __name__ == "__main__":  # the child of run_check: RESULT FOLDER [FILE...]
    problems = check_folder(Path(sys.argv[2]), [Path(arg) for arg in sys.argv[3:]])
    Path(sys.argv[1]).write_text(json.dumps(problems))
