"""PostgreSQL function and procedure jobs declared in config alone (design §7).

``[[job-<app_name>]]`` keys: ``procedure`` (``name`` or ``schema.name``; a part
may be double-quoted: ``"My Schema".refresh``), ``pass_date`` (true: a backfill
job that calls it once for every missed date, with that date as its one
argument) and ``database_url`` (``postgresql://...``; default: the ledger's URL
when the ledger is PostgreSQL).

Whether the name is a function (``SELECT name(...)``) or a procedure (``CALL
name(...)``) is read from ``pg_proc.prokind``. Each call runs in its own
transaction: committed when it returns, rolled back when it raises, and the
database's error text becomes the job's error. The argument is the run's date in
the configured zone when the parameter is a ``date``, the instant itself for a
``timestamp``/``timestamptz``. A job ``timeout`` becomes ``statement_timeout``;
a call cancelled by it is recorded as ``timed_out``. Notices the call raises
are kept as the run's output.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Mapping
from typing import Any

from crontabber.base import BaseCronApp
from crontabber.errors import INSTALL_POSTGRES, ConfigError
from crontabber.execution import JobTimeout
from crontabber.mixins import as_backfill_cron_app

_PART = r'(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")'
_NAME = re.compile(rf"^({_PART})(?:\.({_PART}))?$")
_SCHEMES = ("postgresql://", "postgres://")


class ProcedureError(Exception):
    """The function or procedure raised, or could not be found or reached; the text is the database's."""


class ProcedureTimeout(JobTimeout):
    """The call ran past the job's timeout and PostgreSQL cancelled it (statement_timeout)."""


def parse_name(text: str) -> tuple[str | None, str]:
    """``schema.name`` -> (schema, name); quoted parts unquoted; ValueError when malformed."""
    match = _NAME.match(text.strip())
    if not match:
        raise ValueError(f"procedure = {text!r} is not a name or schema.name (double-quote a part "
                         'that holds other characters: "My Schema".refresh)')
    parts = [_unquote(part) for part in match.groups() if part is not None]
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def _unquote(part: str) -> str:
    return part[1:-1].replace('""', '"') if part.startswith('"') else part.lower()


def _scalar(section: Mapping[str, Any], key: str) -> str:
    value = section.get(key)
    if isinstance(value, (list, tuple)):
        raise ValueError(f"{key} was read as a list because of an unquoted comma; write it in "
                         f"triple quotes: {key} = '''...'''")
    return "" if value is None else str(value).strip()


def database_url(section: Mapping[str, Any], ledger_url: str | None) -> str:
    """The job's own ``database_url``, else the ledger's when it is PostgreSQL; ValueError otherwise."""
    url = _scalar(section, "database_url")
    if url:
        if not url.startswith(_SCHEMES):
            raise ValueError("database_url must be a postgresql://user@host:port/dbname URL")
        from crontabber.errors import ConfigError as Refused
        from crontabber.state.postgres import check_userinfo

        try:
            check_userinfo(url, "database_url")
        except Refused as exc:
            raise ValueError(str(exc)) from None
        return url
    if ledger_url and ledger_url.startswith(_SCHEMES):
        return ledger_url
    raise ValueError("needs database_url = postgresql://user@host/dbname in its section: the "
                     "ledger is not PostgreSQL, so there is no default database")


class ProcedureJob(BaseCronApp):
    """Calls the ``procedure`` of its ``[[job-<app_name>]]`` section once per run."""

    crontabber_kind = "procedure"

    @classmethod
    def check_section(cls, section: Mapping[str, Any], where: str, app_name: str | None = None) -> None:
        """Raise ConfigError for a malformed name or database_url (called when the config is loaded)."""
        try:
            parse_name(_scalar(section, "procedure"))
            if _scalar(section, "database_url"):
                database_url(section, None)
        except ValueError as exc:
            raise ConfigError(f"{where}: job {app_name or cls.app_name!r}: {exc}") from None

    @classmethod
    def config_problems(cls, job: Any, settings: Any) -> list[str]:
        """What ``configtest`` reports about this job once the ledger's URL is known."""
        from crontabber.state.postgres import parse_url

        try:
            parse_url(database_url(job.config, settings.database_url), "database_url")
        except (ValueError, ConfigError) as exc:
            return [f"job {cls.app_name!r}: {exc}"]
        return []

    @classmethod
    def describe_config(cls, section: Mapping[str, Any], settings: Any) -> list[tuple[str, str]]:
        """(key, value) lines for ``configtest --verbose`` (the URL without its password)."""
        from crontabber.state import redact_url

        try:
            url = redact_url(database_url(section, settings.database_url))
        except ValueError as exc:
            url = f"none: {exc}"
        return [("procedure", _scalar(section, "procedure")), ("database_url", url),
                ("pass_date", "yes" if getattr(cls, "_is_backfill_app", False) else "no")]

    def run(self, date: dt.datetime | None = None) -> None:
        """Call the procedure (with ``date`` when given) in one transaction."""
        if not hasattr(self, "_deadline"):  # one deadline for the whole run, every backfill date included
            self._deadline = self._deadline_from_settings()
        connection = self._connect()
        try:
            self._call(connection, date)
        finally:
            self.crontabber_output = "".join(connection.notices).strip() or None
            connection.close()

    def _deadline_from_settings(self) -> float | None:
        timeout = getattr(self.crontabber_settings, "timeout", None)
        return time.monotonic() + timeout if timeout else None

    def _connect(self) -> Any:
        try:
            import psycopg2
        except ImportError:
            raise ProcedureError(f"procedure jobs need psycopg2: {INSTALL_POSTGRES}") from None

        from crontabber.state import redact_url

        try:
            url = database_url(self.config, self.crontabber_database_url)
        except ValueError as exc:
            raise ConfigError(f"job {self.app_name!r}: {exc}") from None
        try:
            return psycopg2.connect(url, application_name=f"crontabber {self.app_name}"[:63])
        except psycopg2.Error as exc:
            raise ProcedureError(f"cannot connect to {redact_url(url)}: {str(exc).strip()}") from None

    def _call(self, connection: Any, date: dt.datetime | None) -> None:
        import psycopg2
        from psycopg2 import errors, sql

        schema, name = parse_name(_scalar(self.config, "procedure"))
        try:
            with connection.cursor() as cursor:
                if self._deadline is not None:
                    remaining = min(max(1, int((self._deadline - time.monotonic()) * 1000)), 2**31 - 1)
                    cursor.execute("SELECT set_config('statement_timeout', %s, true)", (str(remaining),))
                kind, arg_type = _lookup(cursor, schema, name, with_arg=date is not None)
                target = sql.Identifier(schema, name) if schema else sql.Identifier(name)
                verb = sql.SQL("CALL" if kind == "p" else "SELECT")
                if date is None:
                    cursor.execute(sql.SQL("{} {}()").format(verb, target))
                else:
                    cursor.execute(sql.SQL("{} {}(%s)").format(verb, target), (self._argument(date, arg_type),))
            connection.commit()
        except errors.QueryCanceled as exc:
            connection.rollback()
            raise ProcedureTimeout(f"{_shown(schema, name)} cancelled by the job's timeout: "
                                   f"{_pg_text(exc)}") from None
        except psycopg2.Error as exc:
            connection.rollback()
            raise ProcedureError(f"{_shown(schema, name)}: {_pg_text(exc)}") from None

    def _argument(self, date: dt.datetime, arg_type: str) -> Any:
        if arg_type.startswith("timestamp"):
            return date
        tz = getattr(self.crontabber_schedule, "tz", None) or dt.timezone.utc
        local = date.astimezone(tz) if date.tzinfo else date
        return local.date() if arg_type == "date" else local.date().isoformat()


@as_backfill_cron_app
class ProcedureBackfillJob(ProcedureJob):
    """``pass_date = true``: called once for every missed date, each in its own transaction."""


def _lookup(cursor: Any, schema: str | None, name: str, with_arg: bool) -> tuple[str, str]:
    """(prokind, type of the first argument) of the callable named, searched as PostgreSQL would."""
    import psycopg2

    cursor.execute(
        """SELECT p.prokind, coalesce(format_type(p.proargtypes[0], NULL), '')
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE p.proname = %s
              AND (n.nspname = %s OR (%s IS NULL AND n.nspname = ANY (current_schemas(true))))
              AND p.pronargs - p.pronargdefaults <= %s AND p.pronargs >= %s
            ORDER BY array_position(current_schemas(true), n.nspname)""",
        (name, schema, schema, 1 if with_arg else 0, 1 if with_arg else 0))
    rows = cursor.fetchall()
    wanted = "one argument (pass_date is on)" if with_arg else "no arguments"
    if not rows:
        raise psycopg2.ProgrammingError(
            f"no function or procedure {_shown(schema, name)} taking {wanted} exists "
            f"{'in schema ' + repr(schema) if schema else 'on the search_path'}")
    kind, arg_type = rows[0]
    if kind not in ("f", "p"):
        raise psycopg2.ProgrammingError(f"{_shown(schema, name)} is an aggregate or window "
                                        "function; name a function or a procedure")
    return kind, arg_type


def _shown(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def _pg_text(exc: Exception) -> str:
    text = getattr(exc, "pgerror", None) or str(exc)
    return text.strip()
