"""The PostgreSQL ledger reached through a deployment's own connection class (0.18.1's
``crontabber.database_class`` and ``transaction_executor_class``).

The classes are instantiated as 0.18.1 did: ``database_class(config)`` and
``transaction_executor_class(config, factory)``, with ``config`` holding the class's own keys.
The executor runs the schema check (so an executor with backoff waits out a database that is
not up yet, as it did in 0.18.1); the runner's session is then ``factory.connection()`` (or the
factory's context manager, held open), kept for the whole run because the job locks live in it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from crontabber.errors import LedgerError
from crontabber.state.postgres import _SCHEMA_CHECK, _SCHEMA_COMPLETE, PostgresLedger


class FactoryLedger(PostgresLedger):
    """A ``PostgresLedger`` whose connection comes from a connection factory object."""

    def __init__(self, factory: Any, executor: Callable[..., Any] | None, class_name: str,
                 secrets: Sequence[str] = ()) -> None:
        super().__init__("", {}, {})
        self.factory = factory
        self.executor = executor
        self._class_name = class_name
        self._secrets = [secret for secret in secrets if secret]
        self._password = self._secrets[0] if self._secrets else ""
        self._held_open = contextlib.ExitStack()
        self.server = f"via {class_name}"
        self.description = f"PostgreSQL ledger via {class_name}"

    def _connect(self) -> Any:
        connect = getattr(self.factory, "connection", None)
        conn = connect() if callable(connect) else self._held_open.enter_context(self.factory())
        if not conn.autocommit:
            conn.rollback()  # a pooled connection may sit in a transaction; the ledger wants none
            conn.autocommit = True
        params = conn.get_dsn_parameters()
        self.server = f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}/{params.get('dbname', '')}"
        self.description = f"PostgreSQL ledger {self.server} (via {self._class_name})"
        return conn

    def open(self) -> None:
        """Check (and create) the schema through the executor, then open the runner's session."""
        try:
            if self.executor is not None:
                self.executor(self._ensure_schema)
            with self._guard():
                self._conn = self._connect()
                if self.executor is None:
                    with self._conn.cursor() as cursor:
                        cursor.execute(_SCHEMA_CHECK)
                        if tuple(cursor.fetchone()) != _SCHEMA_COMPLETE:
                            self._create_schema(cursor)
        except LedgerError:
            raise
        except Exception as exc:  # the deployment's classes may raise anything
            text = self._scrub(" ".join(str(exc).split()) or type(exc).__name__)
            raise LedgerError(f"{self.description}: {text}") from None

    def _ensure_schema(self, connection: Any) -> None:
        """Run inside the executor's transaction (it commits or rolls back)."""
        with connection.cursor() as cursor:
            cursor.execute(_SCHEMA_CHECK)
            if tuple(cursor.fetchone()) != _SCHEMA_COMPLETE:
                self._schema_statements(cursor)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def close(self) -> None:
        super().close()
        self._held_open.close()
