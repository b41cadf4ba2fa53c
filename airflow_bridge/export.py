"""``export-dags``: the job graph -> DAG models -> source files (design §8). No Airflow import.

Export reads the configuration and the job code only, never the ledger, so the
same config always yields the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from airflow_bridge import native_map
from airflow_bridge.mapping import CONFIG_VARIABLE, base_model, dag_ids, schedule_spec, zone_name
from airflow_bridge.model import DagModel, TaskModel
from airflow_bridge.source import render
from crontabber.errors import ConfigError, UsageError
from crontabber.progress import iterate

MODES = ("bridge", "native")


@dataclass
class Export:
    """The files an export writes, and what it could not export or express."""

    files: dict[str, str] = field(default_factory=dict)  # file name -> source
    models: list[DagModel] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # app name -> why it has no file
    dag_ids: dict[str, str] = field(default_factory=dict)  # app name -> dag_id


def file_name(dag_id: str) -> str:
    """The DAG file of a dag_id (a leading dot would hide the file from Airflow)."""
    return ("_" + dag_id if dag_id.startswith(".") else dag_id) + ".py"


def select(settings: Any, names: Iterable[str] | None) -> list[Any]:
    """The jobs to export: all, or the named ones (an unknown name is a usage error)."""
    if names is None:
        return list(settings.jobs)
    wanted = [name.strip() for name in names if name.strip()]
    known = {job.app_name: job for job in settings.jobs}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise UsageError(f"--jobs names {', '.join(map(repr, unknown))}, not configured "
                         f"(configured: {', '.join(known) or 'none'})")
    return [job for job in settings.jobs if job.app_name in wanted]


def export(settings: Any, mode: str = "bridge", names: Iterable[str] | None = None) -> Export:
    """Build every selected job's DAG model and source."""
    if mode not in MODES:
        raise UsageError(f"--mode {mode!r}: use bridge or native")
    ids = dag_ids(job.app_name for job in settings.jobs)
    jobs = select(settings, names)
    result = Export(dag_ids={job.app_name: ids[job.app_name] for job in jobs})
    timezone = zone_name(settings.timezone)
    specs = {job.app_name: schedule_spec(job, timezone)[0] for job in settings.jobs}
    if mode == "native":
        result.skipped = native_map.blocked_jobs(settings.jobs, {job.app_name for job in jobs}, specs)
    configured = {job.app_name for job in settings.jobs}
    for job in iterate(jobs, f"export-dags --mode {mode}", "jobs"):
        if job.app_name in result.skipped:
            continue
        model = base_model(job, settings, mode, ids)
        if mode == "bridge":
            model.tasks = bridge_tasks(job, ids, configured, model.notes)
        else:
            try:
                model.tasks = native_tasks(job, ids, specs, settings, model.notes)
            except (ValueError, ConfigError) as exc:
                result.skipped[job.app_name] = str(exc)
                continue
        result.models.append(model)
        result.files[file_name(model.dag_id)] = render(model)
    return result


def bridge_tasks(job: Any, ids: dict[str, str], configured: set[str], notes: list[str]) -> list[TaskModel]:
    """One ledger sensor per parent, then the job run through crontabber's own runtime."""
    from airflow_bridge.mapping import dag_id_for

    sensors = []
    for parent in job.depends_on:
        if parent not in configured:
            notes.append(f"depends on {parent!r}, which is not configured: its sensor waits, then skips the run")
        sensors.append(TaskModel(f"wait_for_{ids.get(parent) or dag_id_for(parent)}", "ledger_sensor", {
            "app_name": job.app_name, "parent": parent, "config_variable": CONFIG_VARIABLE,
            "poke_interval": float(job.settings.error_retry_time),
            "timeout": float(job.schedule.interval_seconds)}))
    run = TaskModel(ids[job.app_name], "job", {"app_name": job.app_name, "config_variable": CONFIG_VARIABLE},
                    upstream=tuple(sensor.task_id for sensor in sensors))
    return [*sensors, run]


def native_tasks(job: Any, ids: dict[str, str], specs: dict[str, Any], settings: Any,
                 notes: list[str]) -> list[TaskModel]:
    """One ExternalTaskSensor per parent, then the job's own operator."""
    sensors = [native_map.upstream_sensor(job, ids[parent], specs[parent]) for parent in job.depends_on]
    task, task_notes = native_map.job_task(job, ids[job.app_name], settings)
    notes.extend(task_notes)
    task = TaskModel(task.task_id, task.kind, task.args, upstream=tuple(sensor.task_id for sensor in sensors))
    return [*sensors, task]
