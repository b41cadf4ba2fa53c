"""The job API of crontabber 0.18.1: ``BaseCronApp`` and Socorro's older base classes.

A job is a class with ``app_name`` and a ``run()`` method. The runner builds it
with ``(config, job_information)`` and iterates ``main()``, which yields each
date it ran for: once for an ordinary job, every missed date for a backfill job.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from configman import Namespace, RequiredConfig

from crontabber.schedule import ScheduleError, parse_frequency

UTC = dt.timezone.utc

# Exceptions 0.18.1 exposed here; kept so ``except FrequencyDefinitionError`` still works.
FrequencyDefinitionError = ScheduleError


class CircularDAGError(Exception):
    """The jobs' ``depends_on`` form a cycle."""


def convert_frequency(frequency: str) -> int:
    """0.18.1's helper: ``'3h'`` -> 10800 seconds."""
    return parse_frequency(frequency)


def depends_on_list(value: Any) -> list[str]:
    """``depends_on`` as a job declares it (None, str, tuple, list) -> list of app names."""
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


class BaseCronApp(RequiredConfig):
    """The base class of every crontabber job (import-compatible with 0.18.1)."""

    app_name: str
    app_version = "0.1"
    app_description = ""
    depends_on: Any = ()
    required_config = Namespace()

    # Set by the runner before ``main()``: the tick's instant and the job's schedule.
    crontabber_now: dt.datetime | None = None
    crontabber_schedule: Any = None
    crontabber_settings: Any = None  # the job's JobSettings (timeout, retries...)
    crontabber_database_url: str | None = None  # the ledger's URL (procedure jobs default to it)
    crontabber_output: str | None = None  # captured output a job wants in its log row

    def __init__(self, config: Any, job_information: dict | None) -> None:
        self.config = config
        self.job_information = job_information

    def main(self, function: Callable[..., Any] | None = None, once: bool = True) -> Iterator[dt.datetime]:
        """Run the job and yield each date it ran for (each yield is recorded as a success)."""
        function = function or self._run_proxy
        now = self.crontabber_now or dt.datetime.now(UTC)
        if once:
            function()
            yield now
            return
        info = self.job_information or {}
        # 0.18.1: first_run stands in only for rows written before last_success existed.
        last_success = info["last_success"] if "last_success" in info else info.get("first_run")
        if not last_success or self.crontabber_schedule is None:
            function(now)
            yield now
            return
        for when in self.crontabber_schedule.backfill_dates(last_success, now):
            function(when)
            yield when

    def _run_proxy(self, *args: Any, **kwargs: Any) -> Any:
        """Indirection the mixins override to hand ``run`` a connection or transaction."""
        return self.run(*args, **kwargs)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define run()")


# Socorro's older base classes, as thin aliases over the decorators.
from crontabber import mixins  # noqa: E402  (mixins does not import this module)


@mixins.as_backfill_cron_app
class BaseBackfillCronApp(BaseCronApp):
    """Socorro's backfill base class: ``run(date)``."""


@mixins.using_postgres()
@mixins.with_postgres_connection_as_argument()
class PostgresCronApp(BaseCronApp):
    """Socorro's Postgres base class: ``run(connection)``."""


@mixins.using_postgres()
@mixins.with_postgres_connection_as_argument()
@mixins.as_backfill_cron_app
class PostgresBackfillCronApp(BaseCronApp):
    """Socorro's Postgres backfill base class: ``run(connection, date)``."""


@mixins.with_subprocess
class SubprocessMixin(BaseCronApp):
    """Socorro's subprocess helper: ``self.run_process(command)``."""
