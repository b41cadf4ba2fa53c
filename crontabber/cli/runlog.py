"""``crontabber log JOB``: a job's recent runs from the ledger, with their error and output.

Each ``crontabber_log`` row is one run (one date, for a backfill job): it was written when
the run ended (``log_time``, as in 0.18.1), so the run started ``duration`` earlier. The
table shows instants in ``crontabber.timezone`` with their offset (``--utc``: UTC); JSON
gives ISO 8601 instants in UTC, like ``list --format json``.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, TextIO

from crontabber.state import LogEntry
from crontabber.timefmt import duration, stamp_seconds

UTC = dt.timezone.utc


def short_type(exc_type: str | None) -> str:
    """``ShellCommandFailed`` from ``crontabber.legacy.shell.ShellCommandFailed`` or from
    0.18.1's ``<class 'crontabber.legacy.shell.ShellCommandFailed'>``."""
    text = (exc_type or "").strip()
    if text.startswith("<class '") and text.endswith("'>"):
        text = text[len("<class '"):-2]
    return text.rpartition(".")[2]


def error_text(exc_value: str | None, exc_type: str | None = None) -> str:
    """The message of a logged exception: ``exc_value`` is ``str(e)`` in our rows and
    ``repr(e)`` (``ValueError('boom')``) in 0.18.1's; both read as ``boom``."""
    text = exc_value or ""
    name = short_type(exc_type)
    if name and text.startswith(name + "(") and text.endswith(")"):
        try:
            args = ast.literal_eval(text[len(name):])
        except (ValueError, SyntaxError):
            return text
        if isinstance(args, str):
            return args
        if isinstance(args, tuple) and all(isinstance(arg, str) for arg in args):
            return ", ".join(args)
    return text


def seconds_text(seconds: float) -> str:
    """``0.04s``, ``12.5s``, ``2m 5s``: short runs to the hundredth, long ones in units."""
    if seconds < 60:
        return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.1f}s"
    return duration(seconds)


def run_record(entry: LogEntry, backfill: bool) -> dict[str, Any]:
    """One run as the JSON output gives it."""
    end = entry.log_time
    start = end - dt.timedelta(seconds=entry.duration or 0)
    error = None
    if entry.exc_type or entry.exc_value:
        error = {"type": short_type(entry.exc_type), "message": error_text(entry.exc_value, entry.exc_type),
                 "traceback": entry.exc_traceback or ""}
    return {
        "app_name": entry.app_name, "start": start.astimezone(UTC).isoformat(),
        "end": end.astimezone(UTC).isoformat(), "duration": round(entry.duration or 0, 3),
        "outcome": entry.outcome.value,
        "date": entry.success.astimezone(UTC).isoformat() if backfill and entry.success else None,
        "error": error, "output": entry.output,
    }


def render(app_name: str, entries: Sequence[LogEntry], backfill: bool, zone: dt.tzinfo,
           zone_label: str, out: TextIO, fmt: str = "table", limit: int = 10) -> None:
    """Write the runs, newest first, as readable blocks or as JSON."""
    records = [run_record(entry, backfill) for entry in entries]
    if fmt == "json":
        json.dump(records, out, indent=2)
        out.write("\n")
        return
    if not records:
        out.write(f"{app_name}: no runs in the ledger yet\n")
        return
    count = len(records)
    runs = "run" if count == 1 else f"{count} runs"
    shown = f"the last {runs} (-n N shows more)" if count == limit else ("1 run" if count == 1 else runs)
    out.write(f"{app_name}: {shown}, newest first; times in {zone_label}\n")
    for record in records:
        out.write("\n" + _block(record, zone))


def _block(record: dict[str, Any], zone: dt.tzinfo) -> str:
    start = dt.datetime.fromisoformat(record["start"]) + dt.timedelta(milliseconds=500)  # to the nearest second
    took = seconds_text(record["duration"])
    verb = "in" if record["outcome"] == "succeeded" else "after"
    lines = [f"{stamp_seconds(start, zone)}  {record['outcome']} {verb} {took}"]
    if record["date"]:
        lines.append(f"  date:   {stamp_seconds(dt.datetime.fromisoformat(record['date']), zone)}")
    if record["error"]:
        error = record["error"]
        text = f"{error['type']}: {error['message']}" if error["type"] else error["message"]
        first, *rest = text.splitlines() or [""]
        lines.append(f"  error:  {first}")
        lines += [f"          {line}" for line in rest]
    output = record["output"]
    if output and output.strip():
        lines.append("  output:")
        lines += [f"    {line}" for line in output.rstrip("\n").splitlines()]
    elif output is not None:
        lines.append("  output: (none)")
    return "\n".join(lines) + "\n"
