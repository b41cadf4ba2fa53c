"""The source of each task kind and schedule kind (the fixed code around the user's data)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from airflow_bridge.model import DagModel, ScheduleSpec, TaskModel
from airflow_bridge.source import Code, call, duration, literal, text_literal  # noqa: F401

OPERATORS = {
    "job": ("airflow_bridge.operators", "CrontabberJobOperator"),
    "due_sensor": ("airflow_bridge.sensors", "LedgerDueSensor"),
    "ledger_sensor": ("airflow_bridge.sensors", "LedgerSensor"),
    "parent_sensor": ("airflow_bridge.sensors", "ParentRunSensor"),
    "python": ("airflow.providers.standard.operators.python", "PythonOperator"),
    "bash": ("airflow.providers.standard.operators.bash", "BashOperator"),
    "sql": ("airflow.providers.common.sql.operators.sql", "SQLExecuteQueryOperator"),
}
FORCE_HELP = "Run the job even if the ledger already has this interval (or date), or cron runs it."
DATE_HELP = "Backfill jobs: the date to run (YYYY-MM-DD); empty: the run's own date."


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


def dag_params(model: DagModel, imports: Imports) -> dict[str, Any]:
    """The DAG's ``params``: ``force`` and ``date`` for a person's trigger (every DAG), and what
    the tasks' own templates read (never user text inside a template)."""
    param = imports.add("airflow.sdk", "Param")
    params: dict[str, Any] = {
        "force": Code(call(param, [("type", "boolean"), ("description", FORCE_HELP)], depth=2, positional=[False])),
        "date": Code(call(param, [("type", ["null", "string"]), ("format", "date"), ("description", DATE_HELP)],
                          depth=2, positional=[None])),
    }
    if any(task.kind == "sql" and "parameters" in task.args for task in model.tasks):
        params["crontabber_timezone"] = model.schedule.timezone
    return params


def dag_macros(model: DagModel, imports: Imports) -> dict[str, Any] | None:
    """``user_defined_macros`` the templates use: ``expanduser`` resolves ``~`` on the worker."""
    if any("expanduser(" in str(task.args.get("cwd", "")) for task in model.tasks):
        imports.add("os")
        return {"expanduser": Code("os.path.expanduser")}
    return None


def task_code(task: TaskModel, imports: Imports, depth: int) -> str:
    """``Operator(task_id=..., ...)`` for one task."""
    module, name = OPERATORS[task.kind]
    imports.add(module, name)
    args = task.args
    kwargs: list[tuple[str, Any]] = [("task_id", task.task_id)]
    if task.kind == "job":
        kwargs += [("app_name", args["app_name"]), ("config_variable", args["config_variable"])]
    elif task.kind in ("due_sensor", "ledger_sensor"):
        kwargs += [("app_name", args["app_name"])]
        if task.kind == "ledger_sensor":
            kwargs.append(("parent", args["parent"]))
        kwargs += [("config_variable", args["config_variable"]), ("mode", "poke"),
                   ("poke_interval", args["poke_interval"]), ("timeout", args["timeout"]), ("soft_fail", True)]
    elif task.kind == "parent_sensor":
        kwargs += [("parent_dag_id", args["parent_dag_id"]), ("parent_task_id", args["parent_task_id"]),
                   ("schedule", args["schedule"]), ("timezone", args["timezone"]), ("mode", "poke"),
                   ("poke_interval", args["poke_interval"]), ("timeout", args["timeout"]), ("soft_fail", True)]
    elif task.kind == "python":
        function = imports.add("airflow_bridge.runtime", "run_native_job")
        kwargs += [("python_callable", Code(function)),
                   ("op_kwargs", {"target": args["target"], "config_variable": args["config_variable"],
                                  "backfill": args["backfill"]})]
    elif task.kind == "bash":
        wrap = imports.add("airflow.sdk", "literal")
        kwargs.append(("bash_command", Code(f"{wrap}({text_literal(args['bash_command'])})")))
        if "cwd" in args:
            kwargs.append(("cwd", _value(args["cwd"], wrap)))
        if args["env"]:
            kwargs += [("env", {key: _value(value, wrap) for key, value in args["env"].items()}),
                       ("append_env", True)]
        kwargs.append(("skip_on_exit_code", None))
    elif task.kind == "sql":
        wrap = imports.add("airflow.sdk", "literal")
        kwargs += [("conn_id", args["conn_id"]), ("sql", Code(call(wrap, [], depth + 1, positional=[args["sql"]])))]
        if "parameters" in args:
            kwargs.append(("parameters", args["parameters"]))
        kwargs.append(("hook_params", {"enable_log_db_messages": True}))  # RAISE NOTICE text in the task log
    return call(name, kwargs, depth=depth)


def _value(value: list[str], wrap: str) -> Any:
    """A bash argument: user text as ``literal(...)`` (never Jinja), or our own template text."""
    kind, text = value
    return Code(f"{wrap}({text_literal(text)})") if kind == "literal" else text


__all__ = ["Imports", "dag_macros", "dag_params", "literal", "schedule_code", "task_code"]
