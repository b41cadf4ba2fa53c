"""Native mode (after migration): jobs become plain Airflow operators, with no crontabber ledger.

Shell jobs -> BashOperator whose ``bash_command`` is the command itself, shell-quoted
from its argv and wrapped in ``literal()`` (never Jinja), with ``cwd=`` and ``env=``;
procedure jobs -> SQLExecuteQueryOperator on a connection id; Python jobs ->
PythonOperator; each parent -> ``ParentRunSensor`` (the parent DAG's latest run
succeeded and is not overdue, crontabber's rule). A connected group of jobs moves
together. Values mapped to Airflow Variables (``--var KEY``) travel through
``env=``/``cwd=`` templates, never through the command text. Pure data; no Airflow.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_bridge.model import ScheduleSpec, TaskModel

DEFAULT_CONN_ID = "crontabber_postgres"
BASE_VARIABLE = "{{ var.value.crontabber_base }}"  # ours, never user data
DATE_TEMPLATE = ("{{ params.date or (logical_date or dag_run.run_after)"
                 ".in_timezone(params.crontabber_timezone).isoformat() }}")
STDIN_ENV = "CRONTABBER_STDIN"
_USER = re.compile(r"^[A-Za-z0-9_.-]*$")


def connected_group(jobs: Sequence[Any], selected: Sequence[Any]) -> tuple[list[Any], dict[str, str]]:
    """The selected jobs with every job connected to them through ``depends_on`` (a native DAG
    writes no ledger, so a group moves together), in config order, and what was taken along."""
    by_name = {job.app_name: job for job in jobs}
    links: dict[str, set[str]] = {name: set() for name in by_name}
    for job in jobs:
        for parent in job.depends_on:
            if parent in by_name:
                links[job.app_name].add(parent)
                links[parent].add(job.app_name)
    reason: dict[str, str] = {}
    todo = [job.app_name for job in selected]
    seen = set(todo)
    while todo:
        name = todo.pop()
        for other in sorted(links[name]):
            if other not in seen:
                seen.add(other)
                reason[other] = reason.get(name, name)
                todo.append(other)
    return [job for job in jobs if job.app_name in seen], reason


class VariableMap:
    """Which values go to Airflow Variables: ``--var KEY[=NAME]`` for every job, a job's own
    ``airflow_variables`` key over it; records each use to report conflicts and unused keys."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        self.variables = dict(variables)
        self.uses: dict[str, dict[str, list[str]]] = {}  # Variable -> value -> app names

    def for_job(self, section: Mapping[str, Any]) -> dict[str, str]:
        own = parse_variables(section.get("airflow_variables"))
        return {**self.variables, **own}

    def use(self, name: str, value: str, app_name: str) -> str:
        self.uses.setdefault(name, {}).setdefault(value, []).append(app_name)
        return "{{ var.value['" + name + "'] }}"  # name checked: letters, digits, _ . - only

    def conflict(self) -> str | None:
        """A one-line error when one Variable stands for different values in different jobs."""
        for name, values in sorted(self.uses.items()):
            if len(values) > 1:
                shown = "; ".join(f"{', '.join(apps)}: {value!r}" for value, apps in values.items())
                return (f"the Airflow Variable {name!r} would stand for different values ({shown}); "
                        "map each job's own with airflow_variables = KEY=NAME in its section")
        return None

    def unused(self) -> list[str]:
        used = set(self.uses)
        return [key for key, name in self.variables.items() if name not in used]


def parse_variables(value: Any) -> dict[str, str]:
    """``KEY, KEY2=NAME`` -> {KEY: Variable name} (a KEY alone maps to the Variable KEY)."""
    from crontabber.errors import ConfigError

    items = value if isinstance(value, (list, tuple)) else re.split(r"[,\s]+", str(value or ""))
    mapping = {}
    for item in items:
        key, _, name = str(item).strip().partition("=")
        if not key.strip():
            continue
        name = (name or key).strip()
        if not re.match(r"^[A-Za-z0-9_.-]+$", name):
            raise ConfigError(f"airflow_variables: {name!r} is not an Airflow Variable name "
                              "(letters, digits, _ . - only)")
        mapping[key.strip()] = name
    return mapping


def job_task(job: Any, task_id: str, settings: Any, config_variable: str,
             variables: VariableMap) -> tuple[TaskModel, list[str]]:
    """The operator that does the job's work, and notes on what it cannot carry over."""
    if job.kind == "shell":
        return shell_task(job, task_id, variables)
    if job.kind == "procedure":
        return _procedure_task(job, task_id, settings)
    return TaskModel(task_id, "python", {"target": job.target, "config_variable": config_variable,
                                         "backfill": job.is_backfill}), []


def command_text(section: Mapping[str, Any], spec: Any) -> str:
    """The shell command a person would write for the job: its argv shell-quoted, behind
    ``ionice``/``nice``, after sourcing ``rc_file``, fed ``stdin`` exactly (no added newline)."""
    from crontabber.legacy.shell import parse_bool

    command = str(section.get("command") or "")
    prefix = ["ionice", *spec.ionice] if spec.ionice else []
    if spec.nice is not None:
        prefix += ["nice", "-n", str(spec.nice)]
    rc = spec.rc_file
    if parse_bool(str(section.get("shell") or ""), "shell"):
        inner = f". {shlex.quote(rc)} || exit\n{command}" if rc else command
        text = shlex.join([*prefix, "/bin/sh", "-c", inner])
        rc = None
    else:
        text = shlex.join([*prefix, *shlex.split(command)])
    if spec.stdin is not None:
        text = f'printf \'%s\' "${STDIN_ENV}" | {text}'
    if rc:
        text = f". {shlex.quote(rc)} && {text}"
    return text + " " if text.endswith((".sh", ".bash")) else text  # else read as a template file


def shell_task(job: Any, task_id: str, variables: VariableMap) -> tuple[TaskModel, list[str]]:
    """BashOperator arguments as data: (``"literal"``, text) or (``"template"``, our Jinja)."""
    from crontabber.legacy.shell import ShellSpec

    section = job.config
    spec = ShellSpec.from_section(section)
    mapped = variables.for_job(section)
    env: dict[str, list[str]] = {}
    for key, value in sorted(spec.env.items()):
        env[key] = (["template", variables.use(mapped[key], value, job.app_name)] if key in mapped
                    else ["literal", value])
    if spec.stdin is not None:
        env[STDIN_ENV] = ["literal", spec.stdin]
    raw_cwd = str(section.get("cwd") or "").strip()
    words = [*shlex.split(str(section.get("command") or "")), spec.rc_file or ""]
    if "cwd" in mapped and raw_cwd:
        cwd = ["template", variables.use(mapped["cwd"], raw_cwd, job.app_name)]
    else:
        cwd = cwd_arg(raw_cwd, any(_relative_path(word) for word in words))
    notes = []
    if spec.output_limit and str(section.get("output_limit") or "").strip():
        notes.append("output_limit is not used: Airflow keeps the whole task log")
    if cwd and cwd[0] == "template" and BASE_VARIABLE in cwd[1]:
        notes.append("relative paths start from the Airflow Variable crontabber_base (the folder the "
                     "cron runner ran in)")
    args: dict[str, Any] = {"bash_command": command_text(section, spec), "env": env}
    if cwd:
        args["cwd"] = cwd
    return TaskModel(task_id, "bash", args), notes


def cwd_arg(raw: str, needs_base: bool) -> list[str] | None:
    """``cwd=`` for a job's ``cwd`` key: absolute as it is, ``~`` resolved on the worker that runs
    the job, relative (or none, when the command uses relative paths) from ``crontabber_base``."""
    from crontabber.errors import ConfigError

    if not raw:
        return ["template", BASE_VARIABLE] if needs_base else None
    if raw.startswith("~"):
        head, slash, rest = raw.partition("/")
        if not _USER.match(head[1:]):
            raise ConfigError(f"cwd {raw!r}: {head!r} is not a user name")
        return ["template", "{{ expanduser('" + head + "') }}" + (slash + _jinja_text(rest) if slash else "")]
    if raw.startswith("/"):
        return ["literal", raw]
    return ["template", BASE_VARIABLE + "/" + _jinja_text(raw)]


def _jinja_text(text: str) -> str:
    """User text as template data: every ``{`` (which could open a Jinja tag) as ``{{ '{' }}``."""
    return text.replace("{", "{{ '{' }}")


def _relative_path(word: str) -> bool:
    return "/" in word and not word.startswith(("/", "~"))


def quote_identifier(part: str) -> str:
    """A PostgreSQL identifier, double-quoted (``"`` doubled)."""
    return '"' + part.replace('"', '""') + '"'


def _procedure_task(job: Any, task_id: str, settings: Any) -> tuple[TaskModel, list[str]]:
    from crontabber.legacy.procedure import parse_name

    schema, name = parse_name(str(job.config.get("procedure") or ""))
    target = ".".join(quote_identifier(part) for part in (schema, name) if part is not None)
    pass_date = job.is_backfill
    conn_id = conn_id_of(settings)
    notes = [f"runs on the Airflow connection {conn_id!r} (set crontabber.airflow_conn_id to change it)"]
    if str(job.config.get("database_url") or "").strip():
        notes.append("database_url is not used in native mode: the connection decides the database")
    if job.settings.timeout:
        notes.append("timeout -> execution_timeout only (no statement_timeout in native mode)")
    statements = [call_block(target, pass_date)]
    args: dict[str, Any] = {"conn_id": conn_id}
    if pass_date:
        statements.insert(0, "SELECT set_config('crontabber.run_date', %(date)s, true)")
        statements[1] = statements[1].replace("%", "%%")
        args["parameters"] = {"date": DATE_TEMPLATE}
    args["sql"] = statements
    return TaskModel(task_id, "sql", args), notes


def call_block(target: str, pass_date: bool) -> str:
    """A DO block that CALLs a procedure or SELECTs a function (``pg_proc.prokind`` decides, as
    crontabber's procedure jobs do), with the run's date (``crontabber.run_date``) when asked."""
    tag = "$crontabber$"
    while tag in target:
        tag = tag[:-1] + "_$"
    argument = "quote_literal(current_setting('crontabber.run_date'))" if pass_date else "''"
    return "\n".join([
        f"DO {tag}",
        "DECLARE",
        "    target text := " + "'" + target.replace("'", "''") + "';",
        "    kind \"char\";",
        "BEGIN",
        "    SELECT p.prokind INTO kind FROM pg_proc p WHERE p.oid = to_regproc(target);",
        f"    EXECUTE CASE WHEN kind = 'p' THEN 'CALL ' ELSE 'SELECT ' END || target || '(' || {argument} || ')';",
        "END",
        tag,
    ])


def conn_id_of(settings: Any) -> str:
    """The Airflow connection id procedure jobs use in native mode."""
    try:
        value = settings.config.crontabber.get("airflow_conn_id")
    except (AttributeError, KeyError):
        value = None
    return str(value or "").strip() or DEFAULT_CONN_ID


def upstream_sensor(job: Any, parent_dag_id: str, parent_task_id: str, parent_spec: ScheduleSpec | None) -> TaskModel:
    """A ``ParentRunSensor`` on the parent DAG's job task: crontabber's rule, no aligned instants."""
    from airflow_bridge.mapping import poke_interval

    return TaskModel(f"wait_for_{parent_task_id}", "parent_sensor", {
        "parent_dag_id": parent_dag_id, "parent_task_id": parent_task_id,
        "schedule": parent_spec.schedule_text if parent_spec else job.schedule.text,
        "timezone": parent_spec.timezone if parent_spec else "UTC",
        "poke_interval": poke_interval(job), "timeout": float(job.schedule.interval_seconds)})
