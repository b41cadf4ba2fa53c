"""``export-dags --check``: load the files with Airflow's DagBag and serialize every DAG.

DagBag accepts a DAG whose timetable no plugin registers; serialization (what the
dag-processor does next) rejects it. So both steps run, as the dag-processor would.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


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
