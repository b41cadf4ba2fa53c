"""Face of crontabber 0.18.1's ``crontabber.connection_factory``: psycopg2 connections for jobs.

``ConnectionFactory(config)`` reads ``host``, ``dbname``, ``port``, ``user`` and ``password``
(defaulting to ``resource.postgresql.*``) and keeps one connection per name, by default per
thread: ``connection()``, the context manager ``with factory() as connection`` (which does
not close it), ``close_connection(connection, force=True)`` (which does), ``close()``,
``force_reconnect()`` and ``is_operational_exception()``. The runner uses it only when a
configuration names it for the ledger (``crontabber.database_class``).

Difference from 0.18.1: ``dsn`` quotes each value, so an empty key means libpq's default
(0.18.1 read ``dbname= port=5432`` as the database name ``port=5432``) and a password may
hold spaces or quotes.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

from configman import Namespace, RequiredConfig

from crontabber.errors import INSTALL_POSTGRES

try:
    import psycopg2
except ImportError:  # jobs that use PostgreSQL need the 'postgres' extra
    psycopg2 = None


def _quoted(value: Any) -> str:
    text = str(value if value is not None else "")
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class ConnectionFactory(RequiredConfig):
    """A pool of psycopg2 connections, one per name (by default the current thread's name)."""

    required_config = Namespace()
    for _name, _default, _doc in (
        ("host", "localhost", "the hostname of the database"),
        ("dbname", "", "the name of the database"),
        ("port", 5432, "the port for the database"),
        ("user", "", "the name of the user within the database"),
        ("password", "", "the user's database password"),
    ):
        required_config.add_option(_name, default=_default, doc=_doc,
                                    reference_value_from="resource.postgresql", secret=_name == "password")
    del _name, _default, _doc

    IntegrityError = psycopg2.IntegrityError if psycopg2 is not None else Exception

    def __init__(self, config: Any, local_config: Any = None) -> None:
        super().__init__()
        self.config = config
        local = config if local_config is None else local_config
        self.dsn = " ".join(f"{key}={_quoted(local[key])}" for key in ("host", "dbname", "port", "user", "password"))
        if psycopg2 is None:
            raise ImportError(f"PostgreSQL jobs need psycopg2: {INSTALL_POSTGRES}")
        self.operational_exceptions = (psycopg2.OperationalError, psycopg2.InterfaceError, socket.timeout)
        self.conditional_exceptions = (psycopg2.ProgrammingError,)
        self.pool: dict[str, Any] = {}

    def connection(self, name: str | None = None) -> Any:
        """The connection called ``name`` (the thread's name by default), opened on first use."""
        name = name or self._get_default_connection_name()
        if name not in self.pool:
            self.pool[name] = psycopg2.connect(self.dsn)
        return self.pool[name]

    @contextlib.contextmanager
    def __call__(self, name: str | None = None) -> Iterator[Any]:
        """The named connection for a ``with`` block; it stays open (and pooled) afterwards."""
        connection = self.connection(name)
        try:
            yield connection
        finally:
            self.close_connection(connection)

    def close_connection(self, connection: Any, force: bool = False) -> None:
        """Only with ``force``: close the connection and forget it."""
        if not force:
            return
        try:
            connection.close()
        except self.operational_exceptions:
            self.config.logger.error("ConnectionFactory - failed closing")
        for name, pooled in list(self.pool.items()):
            if pooled is connection:
                del self.pool[name]

    def close(self) -> None:
        """Close every pooled connection."""
        for connection in self.pool.values():
            connection.close()

    def force_reconnect(self) -> None:
        """Forget this thread's connection, so the next use opens a new one."""
        self.pool.pop(self._get_default_connection_name(), None)

    def is_operational_exception(self, msg: Any) -> bool:
        """True for a ProgrammingError that is really a lost connection (psycopg2 mislabels it)."""
        return getattr(msg, "pgerror", None) in ("SSL SYSCALL error: EOF detected",)

    @staticmethod
    def _get_default_connection_name() -> str:
        return threading.current_thread().name
