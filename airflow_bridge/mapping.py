"""The job graph -> DAG models (design §8): schedules, retries, timeouts, cutover and tasks.

Pure data work; no Airflow import. Whatever a job sets that a DAG cannot express
is written into the model's ``notes`` (shown by the export and in the file header).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Any

from airflow_bridge.cronfit import cron_fits
from airflow_bridge.model import DagModel, Provenance, ScheduleSpec
from crontabber.errors import ConfigError
from crontabber.timefmt import duration

DAY = 86400
CONFIG_VARIABLE = "crontabber_config"  # Airflow Variable holding the config path (or env CRONTABBER_CONFIG)
CONFIG_TAG = "crontabber-config:"  # + the Variable: how tools (the UI plugin) find a DAG's configuration
TIMEOUT_GRACE = 60  # bridge mode: Airflow's execution_timeout leaves crontabber time to record its own
POKE_FLOOR = 5.0  # seconds: a PostgreSQL poke costs ~30 ms (benchmarks/ledger_poke.py), so < 1% of a core
POKE_CEILING = 60.0  # a child starts at most this long after its parent allows it
DEFAULT_OWNER = "crontabber"
_BAD_ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


def dag_id_for(app_name: str) -> str:
    """The app name with every character outside ``[A-Za-z0-9_.-]`` turned into ``_``."""
    return _BAD_ID_CHARS.sub("_", app_name)[:250] or "_"


def dag_ids(names: Iterable[str]) -> dict[str, str]:
    """app name -> dag_id for every job; two jobs mapping to one dag_id is a configuration error."""
    mapping: dict[str, str] = {}
    owners: dict[str, str] = {}
    for name in names:
        dag_id = dag_id_for(name)
        if dag_id in owners:
            raise ConfigError(f"jobs {owners[dag_id]!r} and {name!r} both map to the Airflow dag_id "
                              f"{dag_id!r} (characters outside [A-Za-z0-9_.-] become _); rename one")
        owners[dag_id] = name
        mapping[name] = dag_id
    return mapping


def zone_name(tz: dt.tzinfo) -> str:
    """The IANA name of a configured zone."""
    return getattr(tz, "key", None) or str(tz)


def schedule_spec(job: Any, timezone: str) -> tuple[ScheduleSpec, list[str]]:
    """How Airflow should schedule ``job`` so it runs when crontabber would, and notes on why."""
    schedule = job.schedule
    text = schedule.text
    since = job.settings.on_airflow_since
    if hasattr(schedule, "expression"):
        if cron_fits(schedule.expression, timezone):
            return ScheduleSpec("cron", text, timezone, cron=schedule.expression), []
        return ScheduleSpec("crontabber", text, timezone), [_own_timetable_note(schedule.expression, timezone)]
    if schedule.time is None:
        notes = []
        if job.is_backfill:
            notes.append(f"backfill on a floating {text} interval: Airflow counts the missed "
                         "intervals from start_date, the cron runner from the last success")
        return ScheduleSpec("delta", text, timezone, seconds=schedule.seconds), notes
    hour, minute = schedule.time
    if schedule.seconds == DAY:
        cron = f"{minute} {hour} * * *"
        if cron_fits(cron, timezone):
            return ScheduleSpec("cron", text, timezone, cron=cron), []
        return ScheduleSpec("crontabber", text, timezone), [_own_timetable_note(cron, timezone)]
    notes = ["runs every " + text.split("|")[0] + " counted from "
             + ("on_airflow_since" if since else "2000-01-03 (set on_airflow_since to count from the cutover)")
             + "; uses CrontabberTimetable (the crontabber Airflow plugin must be installed)"]
    return ScheduleSpec("crontabber", text, timezone, anchor=since), notes


def _own_timetable_note(cron: str, timezone: str) -> str:
    return (f"{cron!r} in {timezone}: CronTriggerTimetable would not fire when cron does (DST days or "
            "extended syntax), so it uses CrontabberTimetable (the crontabber Airflow plugin must be installed)")


def retry_args(job: Any) -> tuple[dict[str, Any], list[str]]:
    """``retries``, ``retry_delay`` and exponential backoff from the job's retry settings."""
    settings = job.settings
    delay = float(settings.error_retry_time)
    args: dict[str, Any] = {"retry_delay": delay}
    notes: list[str] = []
    if settings.max_retries is not None:
        retries = settings.max_retries
    else:
        retries, spent, step = 0, 0.0, max(delay, 1.0)
        interval = job.schedule.interval_seconds
        while spent + step * settings.retry_backoff ** retries <= interval and retries < 1000:
            spent += step * settings.retry_backoff ** retries
            retries += 1
        notes.append(f"retries = {retries}: as many retry delays ({duration(delay)}) as fit in one interval "
                     f"({duration(interval)}); set max_retries to choose")
    args["retries"] = retries
    if settings.retry_backoff > 1:
        args["retry_exponential_backoff"] = float(settings.retry_backoff)
        notes.append("retry_backoff -> retry_exponential_backoff: Airflow adds up to 100% jitter to each delay")
    return args, notes


def unmapped_notes(job: Any, mode: str) -> list[str]:
    """Per-job settings a DAG has no place for."""
    notes = []
    for key in ("nagios_critical_after", "overdue_warning", "overdue_critical"):
        if getattr(job.settings, key) is not None:
            where = ("crontabber nagios keeps checking it through the ledger" if mode == "bridge"
                     else "native DAGs write no ledger: use Airflow's own alerting")
            notes.append(f"{key} is not an Airflow setting: {where}")
    return notes


def poke_interval(job: Any) -> float:
    """How often a sensor of ``job`` looks at the ledger: a twentieth of its interval, at most
    ``error_retry_time`` and ``POKE_CEILING``, at least ``POKE_FLOOR`` (the measured cost bound)."""
    wanted = min(float(job.settings.error_retry_time), job.schedule.interval_seconds / 20, POKE_CEILING)
    return max(POKE_FLOOR, round(wanted, 1))


def base_model(job: Any, settings: Any, options: Any, ids: dict[str, str]) -> DagModel:
    """The DAG-level part of a job's model (schedule, cutover, retries, docs); tasks come later.

    Bridge DAGs are deployed unpaused with no start_date: who runs each run is decided at run
    time (``handover``). Native DAGs start at ``on_airflow_since`` (paused without one).
    """
    mode = options.mode
    timezone = zone_name(settings.timezone)
    spec, notes = schedule_spec(job, timezone)
    retries, retry_notes = retry_args(job)
    since = job.settings.on_airflow_since
    default_args: dict[str, Any] = {"owner": job.settings.owner or DEFAULT_OWNER}
    default_args.update(retries)
    if job.settings.timeout:
        grace = TIMEOUT_GRACE if mode == "bridge" else 0
        default_args["execution_timeout"] = float(job.settings.timeout) + grace
        if grace:
            notes.append(f"execution_timeout = timeout + {grace} s, so crontabber records its own timeout first")
    if job.is_backfill:
        default_args["depends_on_past"] = True
    if mode == "bridge":  # Airflow needs a start_date for catchup: a backfill job's on_airflow_since
        start = since if job.is_backfill else None
        catchup, paused = start is not None, False
        if job.is_backfill and since is None:
            notes.append("backfill job without on_airflow_since: catchup stays off (Airflow needs a start_date); "
                         "each run also runs the dates the ledger misses before its own, as cron does")
        if spec.kind == "delta":
            notes.append(f"floating {spec.schedule_text} interval: Airflow starts a run every {spec.schedule_text} "
                         "from when it first scheduled the DAG; each run waits until the ledger's last run plus "
                         f"{spec.schedule_text}, as the cron runner would")
    else:
        start, catchup, paused = since, job.is_backfill and since is not None, since is None
        if since is None:
            notes.append("no on_airflow_since: the DAG is created paused; set on_airflow_since to the next run "
                         "`crontabber list` shows, or unpause it once the cron runner no longer runs the job")
    description = job.description
    return DagModel(
        dag_id=options.dag_id_prefix + ids[job.app_name], mode=mode, provenance=provenance(job),
        schedule=spec, start_date=start, catchup=catchup, max_active_runs=1, paused_on_creation=paused,
        description=description.splitlines()[0][:200] if description else f"crontabber job {job.app_name}",
        doc_md=description, tags=_tags(job, mode, options.config_variable), default_args=default_args, tasks=[],
        notes=notes + retry_notes + unmapped_notes(job, mode))


def provenance(job: Any) -> Provenance:
    """Where the job comes from: its class or command, its jobs-list line, and the file (no folder)."""
    if job.kind == "python":
        source = f"python class {job.target}"
    else:
        key = "command" if job.kind == "shell" else "procedure"
        label = "shell command" if job.kind == "shell" else job.kind  # "procedure x", not "procedure procedure x"
        source = f"{label} {str(job.config.get(key) or '').strip()}"
    where = job.entry.where
    if "/" in where or "\\" in where:  # keep the file name and line only: no absolute paths
        where = re.split(r"[\\/]", where)[-1]
    return Provenance(app_name=job.app_name, source=source, schedule_line=job.entry.text, where=where)


def _tags(job: Any, mode: str, variable: str) -> tuple[str, ...]:
    tags = ["crontabber", f"crontabber-{mode}", CONFIG_TAG + variable]
    tags += [tag for tag in job.settings.tags if tag not in tags]
    return tuple(tags)


def children_of(jobs: Sequence[Any]) -> dict[str, list[str]]:
    """app name -> the app names that depend on it."""
    children: dict[str, list[str]] = {job.app_name: [] for job in jobs}
    for job in jobs:
        for parent in job.depends_on:
            children.setdefault(parent, []).append(job.app_name)
    return children
