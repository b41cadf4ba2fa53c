"""``export-dags``: the job graph -> DAG models -> source files (design §8). No Airflow import.

Export reads the configuration and the job code only, never the ledger, so the
same config always yields the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_bridge import native_map
from airflow_bridge.mapping import (
    CONFIG_VARIABLE,
    base_model,
    dag_id_for,
    dag_ids,
    poke_interval,
    schedule_spec,
    zone_name,
)
from airflow_bridge.model import DagModel, TaskModel
from airflow_bridge.source import render
from crontabber.errors import ConfigError, UsageError
from crontabber.progress import iterate

MODES = ("bridge", "native")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class Options:
    """How to export: the mode, the Variable naming the config, a dag_id prefix, mapped values."""

    mode: str = "bridge"
    config_variable: str = CONFIG_VARIABLE
    dag_id_prefix: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)  # env key or "cwd" -> Airflow Variable

    def check(self) -> None:
        """UsageError for a mode, Variable name or prefix Airflow would not take."""
        if self.mode not in MODES:
            raise UsageError(f"--mode {self.mode!r}: use bridge or native")
        for what, value in (("--config-variable", self.config_variable),
                            *((f"--var {key}", name) for key, name in self.variables.items())):
            if not _NAME.match(value):
                raise UsageError(f"{what} {value!r}: an Airflow Variable name of letters, digits, _ . - only")
        if self.dag_id_prefix and not _NAME.match(self.dag_id_prefix):
            raise UsageError(f"--dag-id-prefix {self.dag_id_prefix!r}: use letters, digits, _ . - only")
        if self.variables and self.mode != "native":
            raise UsageError("--var maps values of native shell jobs; in bridge mode the job reads "
                             "crontabber.ini on the worker (use --mode native)")


@dataclass
class Export:
    """The files an export writes, and what it could not export or express."""

    files: dict[str, str] = field(default_factory=dict)  # file name -> source
    models: list[DagModel] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # app name -> why it has no file
    dag_ids: dict[str, str] = field(default_factory=dict)  # app name -> dag_id
    taken_along: dict[str, str] = field(default_factory=dict)  # app name -> the named job it is connected to
    unused_variables: list[str] = field(default_factory=list)  # --var keys no exported job has


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


def export(settings: Any, mode: str = "bridge", names: Iterable[str] | None = None,
           options: Options | None = None) -> Export:
    """Build every selected job's DAG model and source."""
    options = options or Options(mode=mode)
    options.check()
    ids = dag_ids(job.app_name for job in settings.jobs)  # also the task ids; dag_id = prefix + id
    jobs = select(settings, names)
    taken: dict[str, str] = {}
    if options.mode == "native" and names is not None:
        jobs, taken = native_map.connected_group(settings.jobs, jobs)
    prefix = options.dag_id_prefix
    result = Export(dag_ids={job.app_name: prefix + ids[job.app_name] for job in jobs}, taken_along=taken)
    timezone = zone_name(settings.timezone)
    specs = {job.app_name: schedule_spec(job, timezone)[0] for job in settings.jobs}
    configured = {job.app_name for job in settings.jobs}
    shells = native_map.VariableMap(options.variables)
    for job in iterate(jobs, f"export-dags --mode {options.mode}", "jobs"):
        model = base_model(job, settings, options, ids)
        if options.mode == "bridge":
            model.tasks = bridge_tasks(job, ids, configured, options, model.notes)
        else:
            try:
                model.tasks = native_tasks(job, ids, specs, settings, options, shells, model.notes)
            except (ValueError, ConfigError) as exc:
                result.skipped[job.app_name] = str(exc)
                continue
        result.models.append(model)
    problem = shells.conflict()
    if problem:
        raise ConfigError(problem)
    result.unused_variables = shells.unused()
    for model in result.models:
        result.files[file_name(model.dag_id)] = render(model)
    return result


def bridge_tasks(job: Any, ids: dict[str, str], configured: set[str], options: Options,
                 notes: list[str]) -> list[TaskModel]:
    """The run's first step (who runs it, is it due), a ledger sensor per parent, then the job
    run through crontabber's own runtime."""
    common = {"app_name": job.app_name, "config_variable": options.config_variable,
              "poke_interval": poke_interval(job)}
    due = TaskModel("wait_until_due", "due_sensor", {**common, "timeout": 2 * float(job.schedule.interval_seconds)})
    sensors = []
    for parent in job.depends_on:
        if parent not in configured:
            notes.append(f"depends on {parent!r}, which is not configured: its sensor waits, then skips the run")
        sensors.append(TaskModel(f"wait_for_{ids.get(parent) or dag_id_for(parent)}", "ledger_sensor", {
            **common, "parent": parent, "timeout": float(job.schedule.interval_seconds)}, upstream=(due.task_id,)))
    run = TaskModel(ids[job.app_name], "job",
                    {"app_name": job.app_name, "config_variable": options.config_variable},
                    upstream=tuple(sensor.task_id for sensor in sensors) or (due.task_id,))
    return [due, *sensors, run]


def native_tasks(job: Any, ids: dict[str, str], specs: dict[str, Any], settings: Any, options: Options,
                 shells: native_map.VariableMap, notes: list[str]) -> list[TaskModel]:
    """One parent-run sensor per parent, then the job's own operator."""
    sensors = []
    for parent in job.depends_on:
        if parent not in ids:
            notes.append(f"depends on {parent!r}, which is not configured: its sensor waits, then skips the run")
        parent_id = ids.get(parent) or dag_id_for(parent)
        sensors.append(native_map.upstream_sensor(job, options.dag_id_prefix + parent_id, parent_id,
                                                  specs.get(parent)))
    task, task_notes = native_map.job_task(job, ids[job.app_name], settings, options.config_variable, shells)
    notes.extend(task_notes)
    task = TaskModel(task.task_id, task.kind, task.args, upstream=tuple(sensor.task_id for sensor in sensors))
    return [*sensors, task]
