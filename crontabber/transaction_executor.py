"""Face of crontabber 0.18.1's ``crontabber.transaction_executor``: run a function in a transaction.

``TransactionExecutor(config, connection_source)(function, *args)`` calls
``function(connection, *args)`` and commits, or rolls back and re-raises. The backoff
variants retry on the connection source's operational errors, sleeping ``backoff_delays``
seconds between tries (forever, or until the list runs out). Jobs get these through the
``@using_postgres()`` family of decorators; the runner's own ledger does not use them.

Differences from 0.18.1: errors are logged as one line (``config.logger``) without a
traceback, which is in the ledger already; a limited backoff that runs out re-raises the
last error (0.18.1's bare ``raise`` did so only on Python 2).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from configman import Namespace, RequiredConfig

from crontabber.dbapi2_util import DBApiUtilNonFatalBaseException


def string_to_list_of_ints(text: str) -> list[int]:
    """``'10, 30, 60'`` -> ``[10, 30, 60]`` (quotes ignored)."""
    return [int(part) for part in text.replace('"', "").replace("'", "").split(",")]


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class TransactionExecutor(RequiredConfig):
    """Commit when ``function`` returns, roll back when it raises."""

    required_config = Namespace()

    def __init__(self, config: Any, db_conn_context_source: Any,
                 quit_check_callback: Callable[[], Any] | None = None) -> None:
        self.config = config
        self.db_conn_context_source = db_conn_context_source
        self.quit_check = quit_check_callback or (lambda: False)
        self.do_quit_check = True

    @property
    def connection_source_type(self) -> str:
        return self.db_conn_context_source.__module__

    def __call__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.do_quit_check:
            self.quit_check()
        with self.db_conn_context_source() as connection:
            try:
                result = function(connection, *args, **kwargs)
                connection.commit()
                return result
            except DBApiUtilNonFatalBaseException:
                connection.rollback()
                raise
            except BaseException as exc:
                connection.rollback()
                self.config.logger.error("Exception raised during %s transaction: %s",
                                         self.connection_source_type, _one_line(exc))
                self.db_conn_context_source.force_reconnect()
                raise


class TransactionExecutorWithInfiniteBackoff(TransactionExecutor):
    """Retries after an operational error, sleeping through ``backoff_delays`` (the last one repeats)."""

    required_config = Namespace()
    required_config.add_option("backoff_delays", default="10, 30, 60, 120, 300",
                               doc="delays in seconds between retries",
                               from_string_converter=string_to_list_of_ints)
    required_config.add_option("wait_log_interval", default=10, doc="seconds between log during retries")

    def backoff_generator(self) -> Iterator[int]:
        yield from self.config.backoff_delays
        while True:
            yield self.config.backoff_delays[-1]

    def responsive_sleep(self, seconds: float, wait_reason: str = "") -> None:
        """Sleep one second at a time, calling the quit check and logging every ``wait_log_interval``."""
        for second in range(int(seconds)):
            if self.config.wait_log_interval and not second % self.config.wait_log_interval:
                self.config.logger.debug("%s: %dsec of %dsec", wait_reason, second, seconds)
            self.quit_check()
            time.sleep(1.0)

    def __call__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        source = self.db_conn_context_source
        last: BaseException | None = None
        for wait_in_seconds in self.backoff_generator():
            try:
                if self.do_quit_check:
                    self.quit_check()
                with source() as connection:
                    try:
                        result = function(connection, *args, **kwargs)
                        connection.commit()
                        return result
                    except BaseException:
                        connection.rollback()
                        raise
            except DBApiUtilNonFatalBaseException:
                raise
            except source.conditional_exceptions as exc:
                if not source.is_operational_exception(exc):
                    self.config.logger.critical("Unrecoverable %s transaction error: %s",
                                                self.connection_source_type, _one_line(exc))
                    raise
                last = exc
                self.config.logger.critical("%s transaction error eligible for retry: %s",
                                            self.connection_source_type, _one_line(exc))
            except source.operational_exceptions as exc:
                last = exc
                self.config.logger.critical("%s transaction error eligible for retry: %s",
                                            self.connection_source_type, _one_line(exc))
            source.force_reconnect()
            self.config.logger.debug("retry in %s seconds", wait_in_seconds)
            self.responsive_sleep(wait_in_seconds,
                                  f"waiting for retry after failure in {self.connection_source_type} transaction")
        if last is not None:
            raise last
        raise RuntimeError("backoff_delays is empty: nothing was tried")


class TransactionExecutorWithLimitedBackoff(TransactionExecutorWithInfiniteBackoff):
    """As above, but gives up (re-raising the last error) once ``backoff_delays`` runs out."""

    def backoff_generator(self) -> Iterator[int]:
        yield from self.config.backoff_delays
