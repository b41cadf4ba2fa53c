"""The ledger: one row per job (``crontabber``) and an append-only run log (``crontabber_log``).

``Ledger`` is the contract every store implements (SQLite and PostgreSQL); the
runner, ``list``, Nagios and the Airflow bridge only talk to it. Table and
column names are crontabber 0.18.1's, so its tools can read our ledger and we
can adopt theirs; ``skip_reason``, ``outcome`` and ``output`` are additions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from crontabber.outcomes import Outcome


@dataclass(frozen=True)
class JobState:
    """One row of the ``crontabber`` table. All instants are aware UTC datetimes."""

    app_name: str
    next_run: dt.datetime | None = None
    first_run: dt.datetime | None = None
    last_run: dt.datetime | None = None
    last_success: dt.datetime | None = None
    ongoing: dt.datetime | None = None
    error_count: int = 0
    depends_on: tuple[str, ...] = ()
    last_error: dict = field(default_factory=dict)
    skip_reason: str | None = None

    def but(self, **changes: object) -> JobState:
        """A copy with ``changes`` applied (rows are values, never edited in place)."""
        return replace(self, **changes)

    def as_job_information(self) -> dict:
        """The dict 0.18.1 handed to a job's constructor as ``job_information``."""
        return {
            "next_run": self.next_run, "first_run": self.first_run, "last_run": self.last_run,
            "last_success": self.last_success, "ongoing": self.ongoing,
            "error_count": self.error_count, "depends_on": list(self.depends_on),
            "last_error": dict(self.last_error),
        }


@dataclass(frozen=True)
class LogEntry:
    """One row of ``crontabber_log``: a successful date or a failed attempt."""

    app_name: str
    log_time: dt.datetime
    duration: float
    outcome: Outcome
    success: dt.datetime | None = None
    exc_type: str | None = None
    exc_value: str | None = None
    exc_traceback: str | None = None
    output: str | None = None


@dataclass(frozen=True)
class RunnerBeat:
    """One row of ``crontabber_heartbeat``: the latest tick of one runner host."""

    host: str
    last_tick: dt.datetime
    last_duration: float
    longest_gap: float  # seconds: the longest seen between the starts of two ticks
    ticks: int
    first_tick: dt.datetime | None = None


@dataclass(frozen=True)
class Claim:
    """A job's run lock, and the rows read once it was held (the job's and its parents')."""

    lock: JobLock
    states: dict[str, JobState]


class JobLock(Protocol):
    """A held lock on one job; it dies with the process (or database session) that holds it."""

    def release(self) -> None: ...


class Ledger(Protocol):
    """What a ledger store provides. Every method raises ``LedgerError`` when the store fails."""

    description: str
    """Where the ledger lives, safe to print (passwords removed)."""

    def load_all(self) -> dict[str, JobState]:
        """Every row, keyed by app name, in one query (the runner calls it once per tick)."""

    def load(self, app_names: Sequence[str]) -> dict[str, JobState]:
        """The rows of ``app_names`` that exist (the re-read after a lock is taken)."""

    def save(self, state: JobState, log: LogEntry | None = None, release: JobLock | None = None) -> None:
        """Insert or replace ``state``'s row and append ``log``, in one transaction; then, once
        that is durable, release ``release`` (a run's final write and its unlock travel together)."""

    def claim(self, app_name: str, read: Sequence[str], started: dt.datetime,
              depends_on: Sequence[str]) -> Claim | None:
        """Take the job's run lock without waiting; then read the rows of ``read`` (the job and
        its parents) as they are once the lock is held, and mark the job ``ongoing`` since
        ``started`` (a mark a crash may lose: it is informational). None when another process
        holds the lock. The rows returned are the ones read before the mark."""

    def set_skip_reason(self, app_name: str, reason: str | None, depends_on: Sequence[str],
                        seen: JobState | None) -> bool:
        """Record why a job did not run (creating its row if needed; no log row), unless its row
        changed since ``seen``, the row the decision was made on (None: there was none): another
        runner may have run the job meanwhile. True when it was written."""

    def try_lock(self, app_name: str) -> JobLock | None:
        """Take the job's run lock without waiting; None when another process holds it."""

    def reset(self, app_name: str) -> bool:
        """Forget a job's row (its log stays); True when there was one."""

    def logs(self, app_name: str, limit: int = 10) -> list[LogEntry]:
        """The newest ``limit`` log rows of a job, newest first."""

    def beat(self, host: str, started: dt.datetime, duration: float) -> None:
        """Record a tick of ``host`` that started at ``started`` (one statement, its own table)."""

    def runners(self) -> list[RunnerBeat]:
        """Every runner host's latest tick, by host name (empty when none has ticked)."""

    def forget_runner(self, host: str) -> bool:
        """Forget a retired host's heartbeat; True when there was one."""

    def repeatedly_interrupted(self, times: int) -> set[str]:
        """The jobs whose ``times`` newest log rows all say ``interrupted`` (one statement)."""

    def close(self) -> None:
        """Release the connection."""


def open_ledger(url: str, read_only: bool = False, **options: object) -> Ledger:
    """Open the store named by ``url`` (``sqlite:///path`` or ``postgresql://...``).

    ``read_only``: never create or upgrade tables and refuse every write (the status views).

    ``group_access=True`` makes a new SQLite ledger and its lock folder group-readable and
    -writable (0660/0770 instead of 0600/0700); other options go to psycopg2's connect."""
    check_url(url)
    group_access = bool(options.pop("group_access", False))
    if url.startswith("sqlite:"):
        from crontabber.state.sqlite import SqliteLedger

        return SqliteLedger.from_url(url, read_only=read_only, group_access=group_access)
    from crontabber.state.postgres import PostgresLedger

    return PostgresLedger.from_url(url, read_only=read_only, **options)


def check_url(url: str, option: str = "crontabber.database_url") -> None:
    """Raise ConfigError for a URL that ``open_ledger`` would refuse, without opening anything
    (``configtest`` calls it, so it refuses first what the run would refuse, in the same words)."""
    from crontabber.errors import ConfigError

    if url.startswith("sqlite:"):
        from crontabber.state.sqlite import sqlite_path

        sqlite_path(url)
        return
    if url.startswith(("postgresql:", "postgres:")):
        from crontabber.state.postgres import parse_url

        parse_url(url, option)
        return
    raise ConfigError(
        f"{option} {redact_url(url)!r}: use sqlite:///path/to/ledger.sqlite "
        "or postgresql://user@host:5432/dbname")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for logs, listings and errors)."""
    from crontabber.redaction import redact_url as redact

    return redact(url)
