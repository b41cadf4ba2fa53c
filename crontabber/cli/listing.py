"""``crontabber list``: each job's state, last success, next run, errors and why it waits."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, TextIO

from crontabber.config.settings import Settings
from crontabber.errortext import one_line
from crontabber.jobs import JobDefinition
from crontabber.redaction import redact
from crontabber.rules import is_on_airflow
from crontabber.state import JobState
from crontabber.timefmt import relative, stamp

UTC = dt.timezone.utc
COLUMNS = ("JOB", "STATE", "LAST SUCCESS", "NEXT RUN", "ERRORS", "DEPENDS ON", "NOTE")


def job_status(job: JobDefinition, state: JobState | None, now: dt.datetime) -> str:
    """One word for where a job stands: on Airflow, running, failing, waiting, never run, ok."""
    if is_on_airflow(job, now):
        return "on Airflow"
    if state is not None and state.ongoing:
        return "running"
    if state is not None and state.error_count:
        return "failing"
    if state is not None and state.skip_reason:
        return "waiting"
    if state is None or state.last_run is None:
        return "never run"
    return "ok"


def _note(job: JobDefinition, state: JobState | None, now: dt.datetime, zone: dt.tzinfo = UTC) -> str:
    if is_on_airflow(job, now):
        return f"runs on Airflow since {stamp(job.settings.on_airflow_since, zone)}"
    if state is None:
        return ""
    if state.ongoing:
        return f"started {relative(state.ongoing, now)}"
    if state.error_count and state.last_error:
        return redact(one_line(state.last_error.get("type", ""), state.last_error.get("value", "")))
    return redact(" ".join((state.skip_reason or "").split()))


def rows(settings: Settings, states: Mapping[str, JobState], now: dt.datetime,
         zone: dt.tzinfo = UTC) -> list[dict[str, Any]]:
    """One dict per configured job, in run order (the JSON output is exactly these, in UTC;
    ``zone`` is the zone of times inside the note text)."""
    result = []
    for job in settings.jobs:
        state = states.get(job.app_name)
        planned = state.next_run if state is not None else None
        if state is None or (state.last_run is None and planned is None):
            planned = now if job.schedule.due_without_row(now) else job.schedule.next_after(now)
        result.append({
            "app_name": job.app_name, "class": job.target, "schedule": job.entry.schedule_text,
            "state": job_status(job, state, now),
            "last_success": _iso(state.last_success if state else None),
            "last_run": _iso(state.last_run if state else None),
            "next_run": _iso(planned),
            "error_count": state.error_count if state else 0,
            "skip_reason": redact(state.skip_reason) if state and state.skip_reason else None,
            "last_error": {key: redact(value) if isinstance(value, str) else value
                           for key, value in state.last_error.items()} if state and state.last_error else None,
            "ongoing": _iso(state.ongoing if state else None),
            "depends_on": list(job.depends_on),
            "runs_on": "airflow" if is_on_airflow(job, now) else "cron",
            "on_airflow_since": _iso(job.settings.on_airflow_since),
            "note": _note(job, state, now, zone),
        })
    return result


def render(settings: Settings, states: Mapping[str, JobState], now: dt.datetime,
           out: TextIO, fmt: str = "table", utc: bool = False) -> None:
    """Write the listing as an aligned table (times in ``crontabber.timezone`` with their offset,
    or in UTC with ``utc``) or as JSON (ISO 8601 instants in UTC, with their offset)."""
    zone = UTC if utc or fmt == "json" else settings.timezone
    data = rows(settings, states, now, zone)
    if fmt == "json":
        json.dump(data, out, indent=2)
        out.write("\n")
        return
    table = [COLUMNS]
    for row in data:
        last = _parse(row["last_success"])
        nxt = _parse(row["next_run"])
        table.append((
            row["app_name"], row["state"],
            f"{stamp(last, zone)} ({relative(last, now)})" if last else "-",
            f"{stamp(nxt, zone)} ({relative(nxt, now)})" if nxt else "-",
            str(row["error_count"]), ", ".join(row["depends_on"]) or "-", row["note"]))
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS) - 1)]
    for line in table:
        cells = [cell.ljust(width) for cell, width in zip(line, widths)] + [line[-1]]
        out.write("  ".join(cells).rstrip() + "\n")
    out.write(f"\n{len(data)} jobs; times in {zone_name(zone)}; ledger: {_ledger_name(settings)}\n")


def zone_name(zone: dt.tzinfo) -> str:
    """``Europe/Berlin`` for a zoneinfo zone, ``UTC`` for UTC."""
    return getattr(zone, "key", None) or str(zone)


def _ledger_name(settings: Settings) -> str:
    return settings.ledger_name


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None
