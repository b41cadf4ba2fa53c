"""The SQL both ledger stores share; subclasses supply the connection, DDL and type mapping."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from crontabber.errors import LedgerError
from crontabber.outcomes import Outcome
from crontabber.state import Claim, JobLock, JobState, LogEntry
from crontabber.state.heartbeat import HeartbeatSql

STATE_COLUMNS = ("app_name", "next_run", "first_run", "last_run", "last_success", "ongoing",
                 "error_count", "depends_on", "last_error", "skip_reason")
LOG_COLUMNS = ("app_name", "log_time", "duration", "success", "exc_type", "exc_value",
               "exc_traceback", "outcome", "output")
_UPDATABLE = STATE_COLUMNS[1:]


class SqlLedger(HeartbeatSql):
    """A ledger over a DB-API connection. Statements use ``%s``; ``paramstyle`` rewrites them."""

    description = "ledger"
    placeholder = "%s"
    null_safe_equal = "IS NOT DISTINCT FROM"  # SQLite before 3.39 only knows ``IS``
    errors: tuple[type[BaseException], ...] = ()
    text_errors: tuple[type[BaseException], ...] = (ValueError,)  # what a driver raises for text it cannot send

    def __init__(self) -> None:
        self._mutex = threading.RLock()
        self._conn: Any = None

    # -- what a subclass supplies ----------------------------------------------------
    def _connect(self) -> Any:
        raise NotImplementedError

    def _create_schema(self, cursor: Any) -> None:
        raise NotImplementedError

    def _to_time(self, value: dt.datetime | None) -> Any:
        return value

    def _from_time(self, value: Any) -> dt.datetime | None:
        return value

    def _to_list(self, value: Sequence[str]) -> Any:
        return list(value)

    def _from_list(self, value: Any) -> tuple[str, ...]:
        return tuple(value or ())

    def _to_json(self, value: dict) -> Any:
        return json.dumps({key: ledger_text(item) if isinstance(item, str) else item
                           for key, item in value.items()}, default=str)

    def _from_json(self, value: Any) -> dict:
        if value is None or value == "" or value == "{}":
            return {}
        return json.loads(value) if isinstance(value, (str, bytes)) else dict(value)

    def _to_duration(self, seconds: float) -> Any:
        return seconds

    def _from_duration(self, value: Any) -> float:
        if isinstance(value, dt.timedelta):
            return value.total_seconds()
        return float(value or 0)

    # -- connection and transactions ------------------------------------------------
    def open(self) -> None:
        """Connect and create missing tables and columns (idempotent)."""
        with self._guard():
            self._conn = self._connect()
            with self._transaction() as cursor:
                self._create_schema(cursor)

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Serialize use of the connection and turn driver errors into one ``LedgerError``."""
        with self._mutex:
            try:
                yield
            except self.text_errors as exc:
                raise LedgerTextError(f"{self.description}: {_one_line(exc)}") from exc
            except self.errors as exc:
                raise LedgerError(f"{self.description}: {_one_line(exc)}") from exc

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        cursor = self._conn.cursor()
        try:
            self._begin(cursor)
            yield cursor
        except BaseException:
            self._conn.rollback()
            raise
        else:
            self._conn.commit()
        finally:
            cursor.close()

    def _begin(self, cursor: Any) -> None:
        """Start a write transaction (drivers that start one implicitly need nothing)."""

    def _no_flush(self, statement: str) -> str:
        """``statement`` committing without waiting for the disk, where the store can say so
        (for informational writes: the heartbeat)."""
        return statement

    def _sql(self, statement: str) -> str:
        return statement if self.placeholder == "%s" else statement.replace("%s", self.placeholder)

    # -- reading ---------------------------------------------------------------------
    def _select_states(self, where: str = "", params: Sequence[Any] = ()) -> dict[str, JobState]:
        with self._guard(), self._transaction() as cursor:
            cursor.execute(self._sql(f"SELECT {', '.join(STATE_COLUMNS)} FROM crontabber {where}"),
                           tuple(params))
            rows = cursor.fetchall()
        return {row[0]: self._row_to_state(row) for row in rows}

    def _row_to_state(self, row: Sequence[Any]) -> JobState:
        return JobState(
            app_name=row[0], next_run=self._from_time(row[1]), first_run=self._from_time(row[2]),
            last_run=self._from_time(row[3]), last_success=self._from_time(row[4]),
            ongoing=self._from_time(row[5]), error_count=row[6] or 0,
            depends_on=self._from_list(row[7]), last_error=self._from_json(row[8]),
            skip_reason=row[9])

    def load_all(self) -> dict[str, JobState]:
        return self._select_states()

    def load(self, app_names: Sequence[str]) -> dict[str, JobState]:
        if not app_names:
            return {}
        marks = ", ".join(["%s"] * len(app_names))
        return self._select_states(f"WHERE app_name IN ({marks})", app_names)

    def logs(self, app_name: str, limit: int = 10) -> list[LogEntry]:
        with self._guard(), self._transaction() as cursor:
            cursor.execute(self._sql(
                f"SELECT {', '.join(LOG_COLUMNS)} FROM crontabber_log WHERE app_name = %s "
                "ORDER BY log_time DESC, id DESC LIMIT %s"), (app_name, limit))
            rows = cursor.fetchall()
        return [self._row_to_log(row) for row in rows]

    def repeatedly_interrupted(self, times: int) -> set[str]:
        with self._guard(), self._transaction() as cursor:
            cursor.execute(self._sql(
                "SELECT c.app_name FROM crontabber c WHERE %s = (SELECT count(*) FROM ("
                "SELECT l.outcome FROM crontabber_log l WHERE l.app_name = c.app_name "
                "ORDER BY l.log_time DESC, l.id DESC LIMIT %s) recent WHERE recent.outcome = %s)"),
                (times, times, Outcome.INTERRUPTED.value))
            return {row[0] for row in cursor.fetchall()}

    def _row_to_log(self, row: Sequence[Any]) -> LogEntry:
        outcome = row[7] or (Outcome.SUCCEEDED.value if row[3] is not None else Outcome.FAILED.value)
        return LogEntry(
            app_name=row[0], log_time=self._from_time(row[1]), duration=self._from_duration(row[2]),
            success=self._from_time(row[3]), exc_type=row[4], exc_value=row[5],
            exc_traceback=row[6], outcome=Outcome(outcome), output=row[8])

    # -- writing ---------------------------------------------------------------------
    def _state_params(self, state: JobState) -> tuple[Any, ...]:
        return (state.app_name, self._to_time(state.next_run), self._to_time(state.first_run),
                self._to_time(state.last_run), self._to_time(state.last_success),
                self._to_time(state.ongoing), state.error_count, self._to_list(state.depends_on),
                self._to_json(state.last_error), ledger_text(state.skip_reason))

    def _log_params(self, entry: LogEntry) -> tuple[Any, ...]:
        return (entry.app_name, self._to_time(entry.log_time), self._to_duration(entry.duration),
                self._to_time(entry.success), ledger_text(entry.exc_type), ledger_text(entry.exc_value),
                ledger_text(entry.exc_traceback), entry.outcome.value, ledger_text(entry.output))

    def _upsert(self, cursor: Any, state: JobState) -> None:
        updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in _UPDATABLE)
        marks = ", ".join(["%s"] * len(STATE_COLUMNS))
        cursor.execute(self._sql(
            f"INSERT INTO crontabber ({', '.join(STATE_COLUMNS)}) VALUES ({marks}) "
            f"ON CONFLICT (app_name) DO UPDATE SET {updates}"), self._state_params(state))

    def _insert_log(self, cursor: Any, entry: LogEntry) -> None:
        marks = ", ".join(["%s"] * len(LOG_COLUMNS))
        cursor.execute(self._sql(f"INSERT INTO crontabber_log ({', '.join(LOG_COLUMNS)}) VALUES ({marks})"),
                       self._log_params(entry))

    def save(self, state: JobState, log: LogEntry | None = None, release: JobLock | None = None) -> None:
        """Write the row and its log row, then release ``release``; a store that refuses the job's
        text (an encoding that cannot hold it) gets it again as ASCII with escapes, so one job's
        odd output never leaves it "running" nor stops the tick."""
        try:
            self._save(state, log, release)
        except LedgerTextError:
            self._save(_ascii_state(state), _ascii_log(log), release)

    def _save(self, state: JobState, log: LogEntry | None, release: JobLock | None = None) -> None:
        with self._guard(), self._transaction() as cursor:
            self._upsert(cursor, state)
            if log is not None:
                self._insert_log(cursor, log)
        if release is not None:
            release.release()

    def claim(self, app_name: str, read: Sequence[str], started: dt.datetime,
              depends_on: Sequence[str]) -> Claim | None:
        """Lock, re-read, mark ``ongoing``: three steps here (PostgreSQL does them in one round trip)."""
        lock = self.try_lock(app_name)
        if lock is None:
            return None
        try:
            states = self.load(read)
            mark = (states.get(app_name) or JobState(app_name)).but(ongoing=started, depends_on=tuple(depends_on))
            self.save(mark)
        except BaseException:
            lock.release()
            raise
        return Claim(lock, states)

    def set_skip_reason(self, app_name: str, reason: str | None, depends_on: Sequence[str],
                        seen: JobState | None) -> bool:
        """One statement, compare-and-set on ``last_run`` and ``ongoing``: a runner that decided on
        an old read never labels a job another runner has run (or is running) since."""
        with self._guard(), self._transaction() as cursor:
            if seen is None:
                marks = ", ".join(["%s"] * len(STATE_COLUMNS))
                cursor.execute(self._sql(
                    f"INSERT INTO crontabber ({', '.join(STATE_COLUMNS)}) VALUES ({marks}) "
                    "ON CONFLICT (app_name) DO NOTHING"),
                    self._state_params(JobState(app_name, depends_on=tuple(depends_on), skip_reason=reason)))
            else:
                same = self.null_safe_equal
                cursor.execute(self._sql(
                    f"UPDATE crontabber SET skip_reason = %s WHERE app_name = %s "
                    f"AND last_run {same} %s AND ongoing {same} %s"),
                    (reason, app_name, self._to_time(seen.last_run), self._to_time(seen.ongoing)))
            return cursor.rowcount > 0

    def reset(self, app_name: str) -> bool:
        with self._guard(), self._transaction() as cursor:
            cursor.execute(self._sql("DELETE FROM crontabber WHERE app_name = %s"), (app_name,))
            return cursor.rowcount > 0

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                try:
                    self._conn.close()
                except self.errors:
                    pass
                self._conn = None


class LedgerTextError(LedgerError):
    """The store refused a value's text (not the connection): worth one retry in plain ASCII."""


_NOTE = " [crontabber: characters the ledger cannot store are written as \\x00 / \\udcXX escapes]"
_ASCII_NOTE = " [crontabber: written in ASCII with \\u escapes: the ledger's encoding cannot hold the text]"


def storable(text: str) -> str:
    """``text`` as every store can hold it: NUL bytes and lone surrogates (undecodable bytes)
    become visible escapes, and a note at the end says so."""
    if "\x00" not in text:
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:
            pass
    fixed = text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
    return fixed + _NOTE


def ledger_text(text: str | None) -> str | None:
    """Every text column goes through here: passwords hidden, then made storable."""
    if text is None:
        return None
    from crontabber.redaction import redact

    return storable(redact(str(text)))


def _ascii(text: Any) -> Any:
    if not isinstance(text, str) or text.isascii():
        return text
    return text.encode("ascii", "backslashreplace").decode("ascii") + _ASCII_NOTE


def _ascii_state(state: JobState) -> JobState:
    return state.but(skip_reason=_ascii(state.skip_reason),
                     last_error={key: _ascii(value) for key, value in state.last_error.items()})


def _ascii_log(entry: LogEntry | None) -> LogEntry | None:
    if entry is None:
        return None
    from dataclasses import replace

    return replace(entry, exc_type=_ascii(entry.exc_type), exc_value=_ascii(entry.exc_value),
                   exc_traceback=_ascii(entry.exc_traceback), output=_ascii(entry.output))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
