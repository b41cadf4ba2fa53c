"""The embedded ledger: one SQLite file, plus OS file locks that die with their process."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
import re
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from crontabber import supervision
from crontabber.errors import ConfigError, LedgerError
from crontabber.state.sql import SqlLedger

UTC = dt.timezone.utc
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f+00:00"  # fixed width, so text order is time order
_DDL = (
    """CREATE TABLE IF NOT EXISTS crontabber (
        app_name TEXT NOT NULL PRIMARY KEY, next_run TEXT, first_run TEXT, last_run TEXT,
        last_success TEXT, ongoing TEXT, error_count INTEGER DEFAULT 0, depends_on TEXT,
        last_error TEXT, skip_reason TEXT)""",
    """CREATE TABLE IF NOT EXISTS crontabber_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT, app_name TEXT NOT NULL, log_time TEXT NOT NULL,
        duration REAL, success TEXT, exc_type TEXT, exc_value TEXT, exc_traceback TEXT,
        outcome TEXT, output TEXT)""",
    "CREATE INDEX IF NOT EXISTS crontabber_log_app_time_idx ON crontabber_log (app_name, log_time)",
    """CREATE TABLE IF NOT EXISTS crontabber_heartbeat (
        host TEXT NOT NULL PRIMARY KEY, first_tick TEXT, last_tick TEXT, last_duration REAL,
        longest_gap REAL DEFAULT 0, ticks INTEGER DEFAULT 0)""",
)
_ADDED_COLUMNS = {"crontabber": ("skip_reason",), "crontabber_log": ("outcome", "output")}


class FileLock:
    """An exclusive ``flock`` on one file; the kernel drops it when the process dies."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd
        self.fds: tuple[int, ...] = (fd,)  # a job's watcher holds a copy: the lock outlives the job

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            supervision.disown(self._fd)
            os.close(self._fd)
            self._fd = None


def sqlite_path(url: str) -> Path:
    """The file a ``sqlite:///path`` URL names, or ConfigError."""
    parts = urlsplit(url)
    raw = unquote(parts.path)
    if parts.netloc not in ("", "localhost") or not raw or raw == "/":
        raise ConfigError(f"crontabber.database_url {url!r}: use sqlite:///relative/path or "
                          "sqlite:////absolute/path")
    return Path(raw[1:] if raw.startswith("/") else raw)


class SqliteLedger(SqlLedger):
    """The ``sqlite:///path`` store. Safe for several processes: WAL, a busy timeout, file locks."""

    placeholder = "?"
    null_safe_equal = "IS"
    greatest = "MAX"
    errors = (sqlite3.Error, OSError)
    text_errors = (ValueError, sqlite3.DataError)

    def __init__(self, path: Path, read_only: bool = False, group_access: bool = False) -> None:
        super().__init__()
        self.path = path
        self.read_only = read_only
        self.lock_dir = path.with_name(path.name + ".locks")
        self.description = f"SQLite ledger {path}"
        # Job errors and output tails are private: owner only, unless a group (say, an Airflow
        # worker's user in bridge mode) must share the ledger. SQLite gives the -wal and -shm
        # files the mode of the database file.
        self.file_mode = 0o660 if group_access else 0o600
        self.dir_mode = 0o770 if group_access else 0o700

    @classmethod
    def from_url(cls, url: str, read_only: bool = False, group_access: bool = False) -> SqliteLedger:
        ledger = cls(sqlite_path(url), read_only=read_only, group_access=group_access)
        ledger.open()
        return ledger

    def open(self) -> None:
        """Connect, switch to WAL and create the schema, one process at a time: two runners that
        cron starts in the same second would otherwise race for the journal-mode switch, which
        SQLite answers with "database is locked" at once instead of waiting."""
        if self.read_only:
            if not self.path.is_file():
                raise LedgerError(f"{self.description}: no ledger yet (the first tick of crontabber creates it)")
            with self._guard():
                self._conn = self._connect()
            return
        try:
            with self._guard():
                self._make_lock_dir()
                fd = self._open_private(self.lock_dir / "open.lock")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # held for milliseconds; dies with the process
                with self._guard():
                    self._create_private(self.path)
                super().open()
            finally:
                os.close(fd)
        except LedgerError as exc:
            raise LedgerError(f"{exc} (check that {self.path.parent} exists and is writable "
                              "by this user)") from exc

    def _make_lock_dir(self) -> None:
        if not self.lock_dir.is_dir():
            try:
                self.lock_dir.mkdir(mode=self.dir_mode)
            except FileExistsError:
                return
            os.chmod(self.lock_dir, self.dir_mode)  # whatever the umask says

    def _open_private(self, path: Path) -> int:
        """Open (creating) a file with the ledger's mode; the umask may only narrow the owner-only mode."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT, self.file_mode)
        if self.file_mode & 0o070:
            with contextlib.suppress(PermissionError):  # another user's file: keep its mode
                os.fchmod(fd, self.file_mode)
        return fd

    def _create_private(self, path: Path) -> None:
        """Create the database file with the ledger's mode before SQLite creates it 0644."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, self.file_mode)
        except FileExistsError:
            return
        try:
            os.fchmod(fd, self.file_mode)
        finally:
            os.close(fd)

    def _connect(self) -> Any:
        if self.read_only:  # a URI in mode=ro: SQLite itself refuses every write
            from urllib.parse import quote

            conn = sqlite3.connect(f"file:{quote(str(self.path.resolve()))}?mode=ro", uri=True,
                                   timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 30000")
            return conn
        conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _begin(self, cursor: Any) -> None:
        cursor.execute("BEGIN" if self.read_only else "BEGIN IMMEDIATE")

    def _seconds_between(self, earlier: str, later: str) -> str:
        return f"((julianday({later}) - julianday({earlier})) * 86400.0)"

    def _has_table_sql(self) -> str:
        return "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = %s"

    def _create_schema(self, cursor: Any) -> None:
        for statement in _DDL:
            cursor.execute(statement)
        for table, columns in _ADDED_COLUMNS.items():
            present = {row[1] for row in cursor.execute(f"PRAGMA table_info({table})")}
            for column in columns:
                if column not in present:
                    cursor.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")

    def _to_time(self, value: dt.datetime | None) -> str | None:
        return None if value is None else value.astimezone(UTC).strftime(_TIME_FORMAT)

    def _from_time(self, value: Any) -> dt.datetime | None:
        if value is None:
            return None
        parsed = dt.datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def _to_list(self, value: Any) -> str:
        import json

        return json.dumps(list(value))

    def _from_list(self, value: Any) -> tuple[str, ...]:
        import json

        return tuple(json.loads(value)) if value and value != "[]" else ()

    def try_lock(self, app_name: str) -> FileLock | None:
        with self._guard():
            self._make_lock_dir()
            safe = re.sub(r"[^A-Za-z0-9_.-]", "_", app_name)[:60]
            digest = hashlib.sha1(app_name.encode()).hexdigest()[:12]
            with supervision.forking():  # a forked job drops it: the lock is not its to keep
                fd = self._open_private(self.lock_dir / f"{safe}-{digest}.lock")
                supervision.own(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                supervision.disown(fd)
                os.close(fd)
                return None
            return FileLock(fd)
