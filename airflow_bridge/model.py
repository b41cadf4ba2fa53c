"""The DAG model: plain dataclasses between the job graph and the generated source.

``mapping`` builds these from crontabber's ``JobDefinition``s; ``source`` renders
them. Every user value travels as data (str, int, float, bool, None, tuples and
dicts of those), so the renderer can emit it with ``repr()`` and never as code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ScheduleSpec:
    """How the DAG is scheduled.

    ``kind`` is ``"delta"`` (DeltaTriggerTimetable every ``seconds``), ``"cron"``
    (CronTriggerTimetable of ``cron`` in ``timezone``) or ``"crontabber"`` (our own
    timetable, replaying ``schedule_text`` exactly as the cron runner would).
    """

    kind: str
    schedule_text: str
    timezone: str
    seconds: int | None = None
    cron: str | None = None
    anchor: dt.datetime | None = None  # crontabber timetables counting whole days from an instant


@dataclass(frozen=True)
class TaskModel:
    """One task of a generated DAG: ``kind`` picks the operator, ``args`` are its data arguments."""

    task_id: str
    kind: str  # "job", "ledger_sensor", "bash", "python", "sql", "external_sensor"
    args: dict[str, Any] = field(default_factory=dict)
    upstream: tuple[str, ...] = ()


@dataclass(frozen=True)
class Provenance:
    """Where a DAG came from, printed in its header."""

    app_name: str
    source: str  # "python class pkg.mod.Class", "shell command ...", "procedure ..."
    schedule_line: str  # the jobs-list entry as written
    where: str  # "crontabber.ini:14" (file name only, never an absolute path)


@dataclass
class DagModel:
    """Everything a generated DAG file says, as data."""

    dag_id: str
    mode: str  # "bridge" or "native"
    provenance: Provenance
    schedule: ScheduleSpec
    start_date: dt.datetime | None
    catchup: bool
    max_active_runs: int | None
    paused_on_creation: bool
    description: str
    doc_md: str
    tags: tuple[str, ...]
    default_args: dict[str, Any]
    tasks: list[TaskModel]
    notes: list[str] = field(default_factory=list)  # what could not be expressed, and how it was handled

    def input_hash(self) -> str:
        """A short, stable hash of everything the file is generated from."""
        data = asdict(self)
        text = json.dumps(data, sort_keys=True, default=_jsonable, ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return repr(value)
