"""Native mode (after migration): jobs become plain Airflow operators, with no crontabber ledger.

Shell jobs -> BashOperator (every user value through ``env``, the command made of
fixed tokens only), procedure jobs -> SQLExecuteQueryOperator on a connection id,
Python jobs -> PythonOperator; each parent -> ExternalTaskSensor on the parent's
latest instant at or before the child's logical date. Pure data; no Airflow import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_bridge.mapping import CONFIG_VARIABLE, children_of
from airflow_bridge.model import ScheduleSpec, TaskModel

DEFAULT_CONN_ID = "crontabber_postgres"
BASE_TEMPLATE = "{{ var.value.get('crontabber_base', '') }}"  # ours, never user data
DATE_TEMPLATE = "{{ (logical_date or dag_run.run_after).in_timezone(params.crontabber_timezone).isoformat() }}"


def blocked_jobs(jobs: Sequence[Any], selected: set[str], specs: dict[str, ScheduleSpec]) -> dict[str, str]:
    """app name -> why it cannot go native (its parents or children stand in the way)."""
    blocked: dict[str, str] = {}
    names = {job.app_name for job in jobs}
    for job in jobs:
        if job.app_name not in selected:
            continue
        for parent in job.depends_on:
            if parent not in names:
                blocked[job.app_name] = f"depends on {parent!r}, which is not configured"
            elif specs[parent].kind == "delta":
                blocked[job.app_name] = (
                    f"depends on {parent!r}, which runs on a floating {specs[parent].schedule_text} interval: "
                    "an ExternalTaskSensor needs the upstream's instants; keep it in bridge mode or give "
                    f"{parent!r} a time of day or cron expression")
    children = children_of(jobs)
    changed = True
    while changed:
        changed = False
        for name in sorted(selected):
            if name in blocked:
                continue
            waiting = [child for child in children.get(name, ()) if child not in selected or child in blocked]
            if waiting:
                blocked[name] = (f"its children {', '.join(map(repr, waiting))} would still run on cron or in "
                                 "bridge mode and read the ledger, which native DAGs do not write: move "
                                 "them to native mode with it")
                changed = True
    return blocked


def job_task(job: Any, task_id: str, settings: Any) -> tuple[TaskModel, list[str]]:
    """The operator that does the job's work, and notes on what it cannot carry over."""
    if job.kind == "shell":
        return _shell_task(job, task_id)
    if job.kind == "procedure":
        return _procedure_task(job, task_id, settings)
    return TaskModel(task_id, "python", {"target": job.target, "config_variable": CONFIG_VARIABLE,
                                         "backfill": job.is_backfill}), []


def _shell_task(job: Any, task_id: str) -> tuple[TaskModel, list[str]]:
    from crontabber.legacy.shell import ShellSpec

    spec = ShellSpec.from_section(job.config)
    argv = spec.full_argv()
    env = {name: value for name, value in sorted(spec.env.items())}
    words = []
    for index, word in enumerate(argv):
        env[f"CRONTABBER_ARGV_{index}"] = word
        words.append(f'"$CRONTABBER_ARGV_{index}"')
    steps = ['base="$CRONTABBER_BASE_VARIABLE"', 'if [ -z "$base" ]; then base="$CRONTABBER_BASE"; fi',
             'if [ -n "$base" ]; then cd "$base" || exit 1; fi']
    if spec.cwd:
        env["CRONTABBER_CWD"] = spec.cwd
        steps.append('cd "$CRONTABBER_CWD" || exit 1')
    run = "exec " + " ".join(words)
    if spec.stdin is not None:
        env["CRONTABBER_STDIN"] = spec.stdin
        run += ' <<< "$CRONTABBER_STDIN"'
    notes = []
    if spec.output_limit:
        notes.append("output_limit is not used: Airflow keeps the whole task log")
    if spec.stdin is not None:
        notes.append("stdin is passed with a here-string, which adds one trailing newline")
    bash_command = "; ".join(steps + [run]) + " "  # the trailing space: never read as a .sh template file
    return TaskModel(task_id, "bash", {"bash_command": bash_command, "env": env}), notes


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


def upstream_sensor(job: Any, parent_id: str, parent_spec: ScheduleSpec) -> TaskModel:
    """An ExternalTaskSensor on the parent's job task at its latest instant at or before ours."""
    anchor = parent_spec.anchor.isoformat() if parent_spec.anchor else None
    return TaskModel(f"wait_for_{parent_id}", "external_sensor", {
        "external_dag_id": parent_id, "external_task_id": parent_id,
        "poke_interval": float(job.settings.error_retry_time),
        "timeout": float(job.schedule.interval_seconds),
        "schedule": parent_spec.schedule_text, "timezone": parent_spec.timezone, "anchor": anchor})
