"""The source of each task kind and schedule kind (the fixed code around the user's data)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from airflow_bridge.model import DagModel, ScheduleSpec, TaskModel
from airflow_bridge.native_map import BASE_TEMPLATE
from airflow_bridge.source import Code, call, duration, literal, text_literal  # noqa: F401

OPERATORS = {
    "job": ("airflow_bridge.operators", "CrontabberJobOperator"),
    "ledger_sensor": ("airflow_bridge.sensors", "LedgerSensor"),
    "python": ("airflow.providers.standard.operators.python", "PythonOperator"),
    "bash": ("airflow.providers.standard.operators.bash", "BashOperator"),
    "sql": ("airflow.providers.common.sql.operators.sql", "SQLExecuteQueryOperator"),
    "external_sensor": ("airflow.providers.standard.sensors.external_task", "ExternalTaskSensor"),
}


class Imports:
    """The imports a file needs, printed in isort order."""

    def __init__(self) -> None:
        self.modules: set[str] = set()
        self.names: dict[str, set[str]] = defaultdict(set)

    def add(self, module: str, name: str | None = None) -> str:
        if name is None:
            self.modules.add(module)
            return module
        self.names[module].add(name)
        return name

    def lines(self) -> list[str]:
        out = ["from __future__ import annotations", ""]
        if self.modules:
            out += [f"import {module}" for module in sorted(self.modules)] + [""]
        third_party = {module: names for module, names in self.names.items() if not module.startswith("airflow_bridge")}
        ours = {module: names for module, names in self.names.items() if module.startswith("airflow_bridge")}
        for group in (third_party, ours):
            if group:
                out += [f"from {module} import {', '.join(sorted(names, key=_isort_key))}"
                        for module, names in sorted(group.items())] + [""]
        return out[:-1]


def _isort_key(name: str) -> tuple[int, str]:
    """isort's order-by-type: CONSTANTS, then Classes, then functions."""
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def schedule_code(spec: ScheduleSpec, imports: Imports) -> Code:
    """The timetable expression of a schedule."""
    if spec.kind == "delta":
        imports.add("datetime")
        name = imports.add("airflow.sdk", "DeltaTriggerTimetable")
        return Code(call(name, [], depth=1, positional=[duration(spec.seconds)]))
    if spec.kind == "cron":
        name = imports.add("airflow.sdk", "CronTriggerTimetable")
        return Code(call(name, [("timezone", spec.timezone)], depth=1, positional=[spec.cron]))
    name = imports.add("airflow_bridge.timetables", "CrontabberTimetable")
    anchor = spec.anchor.isoformat() if spec.anchor else None
    return Code(call(name, [("schedule", spec.schedule_text), ("timezone", spec.timezone), ("anchor", anchor)],
                     depth=1))


def dag_params(model: DagModel) -> dict[str, Any]:
    """DAG ``params`` the tasks' own templates read (never user text inside a template)."""
    if any(task.kind == "sql" and "parameters" in task.args for task in model.tasks):
        return {"crontabber_timezone": model.schedule.timezone}
    return {}


def task_code(task: TaskModel, imports: Imports, depth: int) -> str:
    """``Operator(task_id=..., ...)`` for one task."""
    module, name = OPERATORS[task.kind]
    imports.add(module, name)
    args = task.args
    kwargs: list[tuple[str, Any]] = [("task_id", task.task_id)]
    if task.kind == "job":
        kwargs += [("app_name", args["app_name"]), ("config_variable", args["config_variable"])]
    elif task.kind == "ledger_sensor":
        kwargs += [("app_name", args["app_name"]), ("parent", args["parent"]),
                   ("config_variable", args["config_variable"]), ("mode", "poke"),
                   ("poke_interval", args["poke_interval"]), ("timeout", args["timeout"]), ("soft_fail", True)]
    elif task.kind == "python":
        function = imports.add("airflow_bridge.runtime", "run_native_job")
        kwargs += [("python_callable", Code(function)),
                   ("op_kwargs", {"target": args["target"], "config_variable": args["config_variable"],
                                  "backfill": args["backfill"]})]
    elif task.kind == "bash":
        wrap = imports.add("airflow.sdk", "literal")
        env: dict[str, Any] = {key: Code(f"{wrap}({text_literal(value)})") for key, value in args["env"].items()}
        env["CRONTABBER_BASE_VARIABLE"] = BASE_TEMPLATE
        kwargs += [("bash_command", args["bash_command"]), ("env", env), ("append_env", True),
                   ("skip_on_exit_code", None)]
    elif task.kind == "sql":
        wrap = imports.add("airflow.sdk", "literal")
        kwargs += [("conn_id", args["conn_id"]), ("sql", Code(call(wrap, [], depth + 1, positional=[args["sql"]])))]
        if "parameters" in args:
            kwargs.append(("parameters", args["parameters"]))
    elif task.kind == "external_sensor":
        function = imports.add("airflow_bridge.runtime", "latest_instant")
        date_fn = call(function, [("anchor", args["anchor"])], depth=depth + 1,
                       positional=[args["schedule"], args["timezone"]])
        kwargs += [("external_dag_id", args["external_dag_id"]), ("external_task_id", args["external_task_id"]),
                   ("execution_date_fn", Code(date_fn)), ("mode", "poke"),
                   ("poke_interval", args["poke_interval"]), ("timeout", args["timeout"]),
                   ("soft_fail", True), ("check_existence", True)]
    return call(name, kwargs, depth=depth)


__all__ = ["Imports", "dag_params", "literal", "schedule_code", "task_code"]
