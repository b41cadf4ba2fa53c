"""The runner heartbeat: one row per runner host in ``crontabber_heartbeat``, never in ``crontabber``.

0.18.1's dashboards and ``audit-ghosts`` read every row of ``crontabber`` as a job, so
the heartbeat has a table of its own. Each tick costs one statement: an upsert that
also keeps the longest gap seen between two ticks' starts, from which ``nagios`` and
the status page derive when a host counts as silent (``crontabber.heartbeat``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from crontabber.state import RunnerBeat

TABLE = "crontabber_heartbeat"
_COLUMNS = ("host", "first_tick", "last_tick", "last_duration", "longest_gap", "ticks")


class HeartbeatSql:
    """The heartbeat half of a SQL ledger; the store supplies the two dialect expressions."""

    greatest = "GREATEST"  # SQLite spells the two-argument maximum MAX

    def _seconds_between(self, earlier: str, later: str) -> str:
        """SQL for the seconds from ``earlier`` to ``later`` (two timestamp expressions)."""
        return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"

    def _has_table_sql(self) -> str:
        return "SELECT to_regclass(%s) IS NOT NULL"

    def beat(self, host: str, started: dt.datetime, duration: float) -> None:
        table = TABLE
        gap = self._seconds_between(f"{table}.last_tick", "EXCLUDED.last_tick")
        later = f"EXCLUDED.last_tick >= {table}.last_tick"
        statement = (
            f"INSERT INTO {table} ({', '.join(_COLUMNS)}) VALUES (%s, %s, %s, %s, 0, 1) "
            f"ON CONFLICT (host) DO UPDATE SET "
            f"longest_gap = CASE WHEN {later} THEN {self.greatest}({table}.longest_gap, {gap}) "
            f"ELSE {table}.longest_gap END, "
            f"last_duration = CASE WHEN {later} THEN EXCLUDED.last_duration ELSE {table}.last_duration END, "
            f"last_tick = CASE WHEN {later} THEN EXCLUDED.last_tick ELSE {table}.last_tick END, "
            f"ticks = {table}.ticks + 1")
        when = self._to_time(started)  # type: ignore[attr-defined]
        with self._guard(), self._transaction() as cursor:  # type: ignore[attr-defined]
            cursor.execute(self._sql(self._no_flush(statement)),  # type: ignore[attr-defined]
                           (host, when, when, float(duration)))

    def runners(self) -> list[RunnerBeat]:
        with self._guard(), self._transaction() as cursor:  # type: ignore[attr-defined]
            cursor.execute(self._sql(self._has_table_sql()), (TABLE,))  # type: ignore[attr-defined]
            if not cursor.fetchone()[0]:  # a read-only view of a ledger no runner of ours upgraded yet
                return []
            cursor.execute(f"SELECT {', '.join(_COLUMNS)} FROM {TABLE} ORDER BY host")
            rows = cursor.fetchall()
        return [self._row_to_beat(row) for row in rows]

    def _row_to_beat(self, row: Any) -> RunnerBeat:
        from_time = self._from_time  # type: ignore[attr-defined]
        gap = round(float(row[4] or 0), 3)  # SQLite's julianday() arithmetic is a binary float
        return RunnerBeat(host=row[0], first_tick=from_time(row[1]), last_tick=from_time(row[2]),
                          last_duration=float(row[3] or 0), longest_gap=gap, ticks=int(row[5] or 0))

    def forget_runner(self, host: str) -> bool:
        with self._guard(), self._transaction() as cursor:  # type: ignore[attr-defined]
            cursor.execute(self._sql(f"DELETE FROM {TABLE} WHERE host = %s"), (host,))  # type: ignore[attr-defined]
            return cursor.rowcount > 0
