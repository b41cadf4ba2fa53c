"""One generated job set and the runners that tick it: ours on SQLite and PostgreSQL, and 0.18.1."""

from __future__ import annotations

import datetime as dt
import sqlite3
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

from benchmarks import common
from benchmarks.original import Original


class JobSet:
    """``count`` generated jobs in a temp folder, with an ini per runner and fresh ledgers."""

    def __init__(self, count: int, ledgers: list[str], original: Original | None,
                 frequency: str = "1d", sleep: float = 0.0) -> None:
        self.count = count
        self.ledgers = ledgers
        self.original = original
        self._tmp = tempfile.TemporaryDirectory(prefix=f"crontabber-bench-{count}-")
        self.folder = Path(self._tmp.name)
        self.module = common.write_job_module(self.folder, count, sleep=sleep)
        self.inis = {ledger: common.write_ours_ini(self.folder, self.module, count, ledger, frequency)
                     for ledger in ledgers}
        if "postgresql" in ledgers:
            common.recreate_database(common.OURS_DB)
        if original is not None:
            common.recreate_database(common.ORIGINAL_DB)
            self.original_ini = common.write_original_ini(self.folder, self.module, count, frequency)
        self.ours_env = common.child_env([self.folder])

    def close(self) -> None:
        """Remove the folder (the databases are dropped by the next set or left for inspection)."""
        self._tmp.cleanup()

    def __enter__(self) -> JobSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what can be timed --------------------------------------------------------------
    def ours(self, ledger: str, *flags: str) -> Callable[[], float]:
        """A timed run of our runner on ``ledger`` with ``flags``."""
        argv = [*common.crontabber_command(), *flags, f"--admin.conf={self.inis[ledger]}"]
        return lambda: common.run_process(argv, self.ours_env, cwd=self.folder)

    def theirs(self, *flags: str) -> Callable[[], float]:
        """A timed run of crontabber 0.18.1 with ``flags``."""
        assert self.original is not None
        argv = self.original.command(self.original_ini, *flags)
        env = self.original.env(self.folder)
        return lambda: common.run_process(argv, env, cwd=self.folder)

    def runners(self) -> dict[str, Callable[[], float]]:
        """A plain tick of every runner of this set, by name."""
        measures = {f"ours-{ledger}": self.ours(ledger) for ledger in self.ledgers}
        if self.original is not None:
            measures["0.18.1-postgresql"] = self.theirs()
        return measures

    # -- ledger set-up (never timed) ----------------------------------------------------
    def make_all_due(self) -> None:
        """Move every job's ``next_run`` a minute into the past in every ledger."""
        if "sqlite" in self.ledgers:
            past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
            connection = sqlite3.connect(self.folder / "ledger.sqlite")
            with connection:
                connection.execute("UPDATE crontabber SET next_run = ?",
                                   (past.strftime("%Y-%m-%d %H:%M:%S.%f+00:00"),))
            connection.close()
        sql = "UPDATE crontabber SET next_run = now() - interval '1 minute'"
        if "postgresql" in self.ledgers:
            common.pg_execute(common.OURS_DB, sql)
        if self.original is not None:
            common.pg_execute(common.ORIGINAL_DB, sql)

    def successes(self) -> dict[str, int]:
        """How many successful runs each ledger's log holds (proof that timed runs ran, or did not)."""
        sql = "SELECT count(*) FROM crontabber_log WHERE success IS NOT NULL"
        counts: dict[str, int] = {}
        if "sqlite" in self.ledgers:
            connection = sqlite3.connect(self.folder / "ledger.sqlite")
            counts["ours-sqlite"] = connection.execute(sql).fetchone()[0]
            connection.close()
        for name, dbname, wanted in (("ours-postgresql", common.OURS_DB, "postgresql" in self.ledgers),
                                     ("0.18.1-postgresql", common.ORIGINAL_DB, self.original is not None)):
            if wanted:
                connection = common.pg_connect(dbname)
                with connection.cursor() as cursor:
                    cursor.execute(sql)
                    counts[name] = cursor.fetchone()[0]
                connection.close()
        return counts

    def expect_successes(self, expected: int) -> None:
        """Fail unless every ledger's log holds exactly ``expected`` successful runs."""
        counts = self.successes()
        wrong = {name: count for name, count in counts.items() if count != expected}
        if wrong:
            raise RuntimeError(f"expected {expected} successful runs in each ledger, found {counts}")

    def due_and_idle(self, runners: dict[str, Callable[[], float]], repeats: int,
                     warmups: int = 1) -> dict[str, tuple[float, float]]:
        """Median (due tick, idle tick) wall time of each runner, taking turns, checked against
        the ledgers: every job ran exactly once per due tick and never in an idle one."""
        for runner in runners.values():
            for _ in range(warmups):
                runner()  # creates the rows and the .pyc files
        due: dict[str, list[float]] = {name: [] for name in runners}
        idle: dict[str, list[float]] = {name: [] for name in runners}
        for _ in range(repeats):
            self.make_all_due()
            for name, runner in runners.items():
                due[name].append(runner())
            for name, runner in runners.items():
                idle[name].append(runner())
        self.expect_successes(self.count * (1 + repeats))
        return {name: (statistics.median(due[name]), statistics.median(idle[name])) for name in runners}
