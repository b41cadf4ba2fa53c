"""The shared ledger: PostgreSQL, with crontabber 0.18.1's tables and session advisory locks.

One connection per runner, in autocommit: every read and write is one statement (a
row upsert and its log row travel together in one ``WITH ... INSERT``), so a job's run
costs a fixed handful of statements. The same session holds the advisory lock of every
job the runner is running: when the runner dies (even by SIGKILL) or its session is
terminated, the server drops its locks at once, and the runner's next write fails with
a ``LedgerError`` (exit 3) instead of continuing without them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
from collections.abc import Iterator, Sequence
from typing import Any

from crontabber import supervision
from crontabber.errors import INSTALL_POSTGRES, ConfigError, LedgerError
from crontabber.state import Claim, JobLock, JobState, LogEntry, redact_url
from crontabber.state.sql import LOG_COLUMNS, STATE_COLUMNS, LedgerTextError, SqlLedger

UTC = dt.timezone.utc
SCHEMA_LOCK_KEY = 0x63726F6E74616200  # b"crontab\0": serializes concurrent schema upgrades
_CREATE = (
    # crontabber 0.18.1's DDL, unchanged (app.py CREATE_CRONTABBER_SQL and friends)
    """CREATE TABLE IF NOT EXISTS crontabber (
        app_name text NOT NULL,
        next_run timestamp with time zone,
        first_run timestamp with time zone,
        last_run timestamp with time zone,
        last_success timestamp with time zone,
        ongoing timestamp with time zone,
        error_count integer DEFAULT 0,
        depends_on text[],
        last_error json
    )""",
    # 0.18.1 added `ongoing` to older tables the same way
    "ALTER TABLE crontabber ADD COLUMN IF NOT EXISTS ongoing timestamp with time zone",
    "CREATE UNIQUE INDEX IF NOT EXISTS crontabber_unique_app_name_idx ON crontabber (app_name)",
    """CREATE TABLE IF NOT EXISTS crontabber_log (
        id SERIAL NOT NULL,
        app_name text NOT NULL,
        log_time timestamp with time zone DEFAULT now() NOT NULL,
        duration interval,
        success timestamp with time zone,
        exc_type text,
        exc_value text,
        exc_traceback text
    )""",
    # our additions: additive, idempotent
    "ALTER TABLE crontabber ADD COLUMN IF NOT EXISTS skip_reason text",
    "ALTER TABLE crontabber_log ADD COLUMN IF NOT EXISTS outcome text",
    "ALTER TABLE crontabber_log ADD COLUMN IF NOT EXISTS output text",
    "CREATE INDEX IF NOT EXISTS crontabber_log_app_name_log_time_idx ON crontabber_log (app_name, log_time)",
    """CREATE TABLE IF NOT EXISTS crontabber_heartbeat (
        host text NOT NULL PRIMARY KEY,
        first_tick timestamp with time zone,
        last_tick timestamp with time zone,
        last_duration double precision,
        longest_gap double precision DEFAULT 0,
        ticks bigint DEFAULT 0
    )""",
)
# One cheap read that says whether _CREATE has anything left to do (it usually has not,
# and ALTER TABLE takes an exclusive lock even when the column exists).
_SCHEMA_CHECK = """SELECT
    (SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass('crontabber')
        AND attname IN ('ongoing', 'skip_reason') AND NOT attisdropped),
    (SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass('crontabber_log')
        AND attname IN ('outcome', 'output') AND NOT attisdropped),
    to_regclass('crontabber_unique_app_name_idx') IS NOT NULL,
    to_regclass('crontabber_log_app_name_log_time_idx') IS NOT NULL,
    to_regclass('crontabber_heartbeat') IS NOT NULL"""
_SCHEMA_COMPLETE = (2, 2, True, True, True)
_CLAIM = (
    "SELECT set_config('synchronous_commit', 'off', true); "  # this round trip's commit only
    "SELECT set_config('crontabber.claimed', pg_try_advisory_lock(%(key)s)::text, false); "
    f"WITH old AS (SELECT {', '.join(STATE_COLUMNS)} FROM crontabber WHERE app_name = ANY(%(names)s)), "
    "mark AS (INSERT INTO crontabber (app_name, ongoing, depends_on) "
    "SELECT %(name)s::text, %(started)s::timestamptz, %(depends_on)s::text[] "
    "WHERE current_setting('crontabber.claimed') = 'true' "
    "ON CONFLICT (app_name) DO UPDATE SET ongoing = EXCLUDED.ongoing, depends_on = EXCLUDED.depends_on) "
    "SELECT current_setting('crontabber.claimed') = 'true', old.* FROM (SELECT 1) AS one LEFT JOIN old ON true")
_CONNECT_DEFAULTS = {"connect_timeout": "10", "keepalives": "1", "keepalives_idle": "30",
                     "keepalives_interval": "10", "keepalives_count": "3"}


def lock_key(app_name: str) -> int:
    """The signed 64-bit advisory lock key of a job (stable across hosts and versions)."""
    import hashlib  # only a tick that runs a job needs it

    digest = hashlib.sha256(f"crontabber:{app_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLock:
    """A job's session-level ``pg_advisory_lock``; the server drops it if the session dies."""

    def __init__(self, ledger: PostgresLedger, key: int) -> None:
        self._ledger: PostgresLedger | None = ledger
        self.key = key
        # What keeps the lock alive: the session's socket. A job's watcher holds a copy, so
        # the server drops the lock only once the job's processes are gone.
        self.fds: tuple[int, ...] = (ledger._fd,) if ledger._fd is not None else ()

    def release(self) -> None:
        """Unlock (a no-op once released, or once the session that held it is gone)."""
        if self._ledger is not None:
            self._ledger._unlock(self.key)
            self._ledger = None

    def held_in(self, ledger: PostgresLedger) -> bool:
        """Whether this lock is still held, in ``ledger``'s session."""
        return self._ledger is ledger and self.key in ledger._held

    def forget(self) -> None:
        """The session already unlocked it (with a final write): nothing left to release."""
        self._ledger = None


class PostgresLedger(SqlLedger):
    """The ``postgresql://`` store, shared by any number of runners on any number of hosts."""

    def __init__(self, dsn: str, params: dict[str, str], connect_options: dict[str, Any],
                 read_only: bool = False) -> None:
        import psycopg2

        super().__init__()
        self.read_only = read_only
        self.errors = (psycopg2.Error,)
        self.text_errors = (ValueError, psycopg2.DataError)
        self._dsn = dsn
        self._password = params.get("password") or ""
        self._connect_options = connect_options
        self._held: set[int] = set()
        self._fd: int | None = None  # the session's socket (kept: fileno() fails once closed)
        self._lost: str | None = None
        self.server = (f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}/"
                       f"{params.get('dbname') or params.get('user') or os.environ.get('USER', '')}")
        self.description = f"PostgreSQL ledger {self.server}"

    @classmethod
    def from_url(cls, url: str, read_only: bool = False, **options: Any) -> PostgresLedger:
        """Connect to ``url`` (any libpq URI) and create or upgrade the tables (unless ``read_only``:
        then the session is read-only and the schema is left as it is).

        ``options`` are extra psycopg2 connect arguments (``connect_timeout``,
        ``application_name``, ``connection_factory``...)."""
        params = parse_url(url)
        connect = {key: value for key, value in _CONNECT_DEFAULTS.items() if key not in params}
        if "application_name" not in params:
            connect["application_name"] = f"crontabber {socket.gethostname()} pid {os.getpid()}"[:63]
        connect.update(options)
        if read_only:
            given = connect.get("options") or params.get("options") or ""
            connect["options"] = f"{given} -c default_transaction_read_only=on".strip()
        ledger = cls(url, params, connect, read_only)
        ledger.open()
        return ledger

    # -- connection ---------------------------------------------------------------------
    def _connect(self) -> Any:
        import psycopg2

        conn = psycopg2.connect(self._dsn, **self._connect_options)
        conn.autocommit = True  # one statement, one transaction; no idle-in-transaction session
        return conn

    def open(self) -> None:
        """Connect; create or upgrade the schema only when something is missing."""
        with self._guard():
            with supervision.forking():  # a forked job drops the session's socket, saying nothing
                self._conn = self._connect()
                self._fd = self._conn.fileno()
                supervision.own(self._fd)
            if self.read_only:
                return
            with self._conn.cursor() as cursor:
                cursor.execute(_SCHEMA_CHECK)
                if tuple(cursor.fetchone()) != _SCHEMA_COMPLETE:
                    self._create_schema(cursor)

    def _create_schema(self, cursor: Any) -> None:
        cursor.execute("BEGIN")
        try:
            self._schema_statements(cursor)
        except BaseException:
            if not self._conn.closed:
                cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")

    def _schema_statements(self, cursor: Any) -> None:
        """Create or upgrade the tables inside the caller's transaction, one process at a time."""
        from psycopg2 import errors

        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            for statement in _CREATE:
                cursor.execute(statement)
        except errors.UniqueViolation:
            raise LedgerError(f"{self.description}: table crontabber holds several rows for one "
                              "app_name, so its unique index cannot be built; delete the older "
                              "duplicates (nothing was changed)") from None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A cursor on the autocommit connection: each statement commits on its own."""
        with self._conn.cursor() as cursor:
            yield cursor

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Serialize use of the connection; turn driver errors into one password-free line."""
        with self._mutex:
            if self._lost is not None:  # no reconnecting: the locks went with the session
                raise LedgerError(f"{self.description}: connection lost ({self._lost})")
            try:
                yield
            except self.text_errors as exc:
                raise LedgerTextError(f"{self.description}: {self._scrub(_first_line(exc))}") from None
            except self.errors as exc:
                text = self._scrub(_first_line(exc))
                if self._conn is not None and self._conn.closed:
                    self._lost = text
                    self._held.clear()  # the server dropped them with the session
                    text = f"connection lost ({text})"
                cause = None if self._password and self._password in str(exc) else exc
                raise LedgerError(f"{self.description}: {text}") from cause

    def _scrub(self, text: str) -> str:
        from crontabber.redaction import redact

        return redact(text)

    # -- type mapping ----------------------------------------------------------------------
    def _from_time(self, value: Any) -> dt.datetime | None:
        return None if value is None else value.astimezone(UTC)

    def _to_duration(self, seconds: float) -> dt.timedelta:
        return dt.timedelta(seconds=seconds)

    def _no_flush(self, statement: str) -> str:
        return "SELECT set_config('synchronous_commit', 'off', true); " + statement

    # -- writes: one round trip each ------------------------------------------------------
    def _save(self, state: JobState, log: LogEntry | None = None, release: JobLock | None = None) -> None:
        """Upsert the row and append the log row in one statement (hence one transaction); with
        ``release``, commit and unlock in the same round trip: the lock goes only once the row
        is durable, so the next holder always reads it."""
        updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in STATE_COLUMNS[1:])
        upsert = (f"INSERT INTO crontabber ({', '.join(STATE_COLUMNS)}) "
                  f"VALUES ({', '.join(['%s'] * len(STATE_COLUMNS))}) "
                  f"ON CONFLICT (app_name) DO UPDATE SET {updates}")
        params: tuple[Any, ...] = self._state_params(state)
        if log is not None:
            upsert = (f"WITH saved AS ({upsert} RETURNING app_name) "
                      f"INSERT INTO crontabber_log ({', '.join(LOG_COLUMNS)}) "
                      f"SELECT {', '.join(['%s'] * len(LOG_COLUMNS))} FROM saved")
            params += self._log_params(log)
        key = getattr(release, "key", None) if isinstance(release, AdvisoryLock) and release.held_in(self) else None
        if key is None:
            with self._guard(), self._transaction() as cursor:
                cursor.execute(upsert, params)
            if release is not None:
                release.release()
            return
        with self._guard(), self._transaction() as cursor:
            try:
                cursor.execute(f"BEGIN; {upsert}; COMMIT; SELECT pg_advisory_unlock(%s)", (*params, key))
            except self.errors:
                self._end_failed_transaction(cursor)
                raise
            self._held.discard(key)
        release.forget()

    def claim(self, app_name: str, read: Sequence[str], started: dt.datetime,
              depends_on: Sequence[str]) -> Claim | None:
        """Lock, re-read and mark ``ongoing`` in one round trip: the re-read is a statement of its
        own, after the lock (a statement's snapshot is taken when it starts, so a read in the
        locking statement could miss the commit of the runner that just unlocked); the mark
        commits without waiting for the disk (losing it in a crash loses nothing: the crash
        frees the lock too)."""
        key = lock_key(app_name)
        with self._guard():
            if key in self._held:  # session locks stack: refuse a second holder in this process
                return None
            with self._transaction() as cursor:
                try:
                    cursor.execute(_CLAIM, {"key": key, "names": list(read), "name": app_name,
                                            "started": started, "depends_on": list(depends_on)})
                    rows = cursor.fetchall()
                except self.errors:
                    self._unlock_if_held(cursor, key)
                    raise
            if not rows[0][0]:
                return None
            self._held.add(key)
            states = {row[1]: self._row_to_state(row[1:]) for row in rows if row[1] is not None}
        return Claim(AdvisoryLock(self, key), states)

    def _end_failed_transaction(self, cursor: Any) -> None:
        """After a failed ``BEGIN; ...`` the session waits in an aborted transaction: end it."""
        import psycopg2.extensions

        if not self._conn.closed and self._conn.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
            cursor.execute("ROLLBACK")

    def _unlock_if_held(self, cursor: Any, key: int) -> None:
        """A claim that failed after its lock statement: give the lock back if it was taken."""
        if self._conn.closed:
            return
        high, low = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
        cursor.execute("SELECT pg_advisory_unlock(%s) FROM pg_locks WHERE locktype = 'advisory' "
                       "AND pid = pg_backend_pid() AND classid = %s AND objid = %s AND objsubid = 1",
                       (key, high, low))

    # -- locks -----------------------------------------------------------------------------
    def try_lock(self, app_name: str) -> AdvisoryLock | None:
        """Take the job's advisory lock in this runner's session, without waiting."""
        key = lock_key(app_name)
        with self._guard():
            if key in self._held:  # session locks stack: refuse a second holder in this process
                return None
            with self._transaction() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", (key,))
                taken = cursor.fetchone()[0]
            if not taken:
                return None
            self._held.add(key)
            return AdvisoryLock(self, key)

    def _unlock(self, key: int) -> None:
        with self._mutex:
            if key not in self._held:
                return
            self._held.discard(key)
            if self._conn is None or self._conn.closed:
                return  # the session is gone, and its locks with it
            try:
                with self._transaction() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", (key,))
            except self.errors as exc:  # the session died: the server has dropped the lock
                if self._conn.closed:
                    self._lost = self._scrub(_first_line(exc))
                    self._held.clear()
                else:
                    raise LedgerError(f"{self.description}: {self._scrub(_first_line(exc))}") from None

    def close(self) -> None:
        """Close the session (which also releases any lock still held)."""
        with self._mutex:
            self._held.clear()
            if self._fd is not None:
                supervision.disown(self._fd)
                self._fd = None
            super().close()

    def lost_locks(self, wait: float) -> bool:
        """Watch the session for up to ``wait`` seconds without a statement; True once it is gone
        (a server restart, a terminated session, a dead network): its locks went with it.

        An idle session receives nothing unasked, so a readable socket means the server said
        goodbye or the connection broke; one ``SELECT 1`` makes sure."""
        import select

        with self._mutex:
            if self._lost is not None:
                return True
            if self._conn is None or self._conn.closed or self._fd is None:
                return False
            fd = self._fd
        readable, _, _ = select.select([fd], [], [], wait)
        if not readable:
            return False
        with self._mutex:
            if self._lost is not None:
                return True
            if self._conn is None or self._conn.closed or not select.select([fd], [], [], 0)[0]:
                return False  # it was a reply another thread has read meanwhile
            try:
                with self._guard(), self._transaction() as cursor:
                    cursor.execute("SELECT 1")
            except LedgerError:
                pass
            return self._lost is not None



def parse_url(url: str, option: str = "crontabber.database_url") -> dict[str, str]:
    """libpq's reading of a ``postgresql://`` URL, or ConfigError saying what to fix (and
    remembering its password, so no output shows it)."""
    from crontabber.redaction import remember, remember_in

    remember_in([url])
    shown = redact_url(url)
    try:
        import psycopg2
        from psycopg2.extensions import parse_dsn
    except ImportError:
        raise ConfigError(f"{option} {shown!r} needs psycopg2, which is not installed here: "
                          f"{INSTALL_POSTGRES}") from None
    check_userinfo(url, option)
    try:
        params = parse_dsn(url)
    except psycopg2.Error:
        raise ConfigError(f"{option} {shown!r} is not a valid PostgreSQL URL "
                          "(postgresql://user@host:5432/dbname)") from None
    if not all(port.isdigit() for port in params.get("port", "5432").split(",")):
        raise ConfigError(f"{option} {shown!r}: the port must be a number")
    remember(params.get("password"))
    return params


def check_userinfo(url: str, option: str = "crontabber.database_url") -> None:
    """ConfigError when libpq would end the URL's user info before its last ``@`` (an unencoded
    ``/`` or ``@`` in the password): it would then read a piece of the password as the host."""
    unencoded = _unencoded_in_userinfo(url)
    if unencoded:
        raise ConfigError(f"{option} {redact_url(url)!r}: its user name or password holds {unencoded}, "
                          "which libpq reads as the end of it: percent-encode it (/ as %2F, @ as %40)")


def _unencoded_in_userinfo(url: str) -> str:
    """The characters (``/``, ``@``) that make libpq end a URL's user info before its last ``@``."""
    rest = url.split("://", 1)[-1].split()[0] if url.split("://", 1)[-1].strip() else ""
    at, slash = rest.find("@"), rest.find("/")
    libpq = rest[:at] if at != -1 and (slash == -1 or at < slash) else ""
    greedy = rest.rpartition("@")[0]
    if greedy == libpq:
        return ""
    found = [char for char in "/@" if char in greedy]
    return " and ".join(f"an unencoded {char!r}" for char in found)


def _first_line(exc: BaseException) -> str:
    """The driver's message without libpq's indented hint lines."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    text = lines[0]
    for prefix in ("FATAL:", "ERROR:"):
        text = text.removeprefix(prefix).strip()
    return text
