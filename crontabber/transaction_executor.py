"""Run a function in one database transaction (0.18.1's class path)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from configman import RequiredConfig


class TransactionExecutor(RequiredConfig):
    """Calls ``function(connection, ...)``; commits on return, rolls back on any exception."""

    def __init__(self, config: Any, db_conn_context_source: Any, quit_check_callback: Any = None) -> None:
        self.config = config
        self.db_conn_context_source = db_conn_context_source

    def __call__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self.db_conn_context_source() as connection:
            try:
                result = function(connection, *args, **kwargs)
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
            return result
