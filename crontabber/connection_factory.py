"""PostgreSQL connections for jobs that use ``@using_postgres()`` (0.18.1's class path)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from configman import Namespace, RequiredConfig


class ConnectionFactory(RequiredConfig):
    """Opens psycopg2 connections from ``resource.postgresql``-style settings."""

    required_config = Namespace()
    for _name, _default, _doc in (
        ("host", "localhost", "the hostname of the database"),
        ("dbname", "", "the name of the database"),
        ("port", 5432, "the port for the database"),
        ("user", "", "the name of the user within the database"),
        ("password", "", "the user's database password"),
    ):
        required_config.add_option(_name, default=_default, doc=_doc,
                                   reference_value_from="resource.postgresql",
                                   secret=_name == "password")

    def __init__(self, config: Any, local_config: Any = None) -> None:
        self.config = config

    def dsn_kwargs(self) -> dict[str, Any]:
        keys = ("host", "dbname", "port", "user", "password")
        return {key: self.config[key] for key in keys if self.config.get(key) not in (None, "")}

    @contextlib.contextmanager
    def __call__(self, name: str | None = None) -> Iterator[Any]:
        import psycopg2

        connection = psycopg2.connect(**self.dsn_kwargs())
        try:
            yield connection
        finally:
            self.close_connection(connection)

    def close_connection(self, connection: Any, force: bool = False) -> None:
        if not connection.closed:
            connection.close()

    def close(self) -> None:
        """Connections are not pooled, so there is nothing to close."""
