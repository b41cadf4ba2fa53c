"""Face of crontabber 0.18.1's ``crontabber.dbapi2_util``: short cuts over a DB-API connection.

Differences: none. The engine's ledger does not use these (it has its own SQL); they are
here for jobs and deployment classes written against 0.18.1.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any


class DBApiUtilNonFatalBaseException(Exception):
    """A query that returned the wrong shape: a transaction executor rolls back without retrying."""


class SQLDidNotReturnSingleValue(DBApiUtilNonFatalBaseException):
    pass


class SQLDidNotReturnSingleRow(DBApiUtilNonFatalBaseException):
    pass


def single_value_sql(connection: Any, sql: str, parameters: Any = None) -> Any:
    """The first column of the first row; SQLDidNotReturnSingleValue when there is none."""
    rows = execute_query_fetchall(connection, sql, parameters)
    try:
        return rows[0][0]
    except (IndexError, TypeError, KeyError) as exc:
        raise SQLDidNotReturnSingleValue(f"{exc}: {sql}") from None


def single_row_sql(connection: Any, sql: str, parameters: Any = None) -> Sequence[Any]:
    """The first row; SQLDidNotReturnSingleRow when there is none."""
    rows = execute_query_fetchall(connection, sql, parameters)
    try:
        return rows[0]
    except (IndexError, TypeError, KeyError) as exc:
        raise SQLDidNotReturnSingleRow(f"{exc}: {sql}") from None


def execute_query_iter(connection: Any, sql: str, parameters: Any = None) -> Iterator[Sequence[Any]]:
    """The rows one at a time."""
    cursor = connection.cursor()
    cursor.execute(sql, parameters)
    while (row := cursor.fetchone()) is not None:
        yield row


def execute_query_fetchall(connection: Any, sql: str, parameters: Any = None) -> list[Sequence[Any]]:
    cursor = connection.cursor()
    cursor.execute(sql, parameters)
    return cursor.fetchall()


def execute_no_results(connection: Any, sql: str, parameters: Any = None) -> None:
    connection.cursor().execute(sql, parameters)
