"""The job API of crontabber 0.18.1: ``BaseCronApp``, Socorro's older base classes, and the
module's helpers (``convert_frequency``, ``toposort``, ``toposort_flatten``, ``reorder_dag``).

A job is a class with ``app_name`` and a ``run()`` method. The runner builds it
with ``(config, job_information)`` and iterates ``main()``, which yields each
date it ran for: once for an ordinary job, every missed date for a backfill job.
``main()`` takes "now" from the runner, or from this module's ``utc_now`` when a job is
driven by hand (0.18.1's tests patch ``crontabber.base.utc_now``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from configman import Namespace, RequiredConfig

from crontabber.clock import utc_now
from crontabber.schedule import ScheduleError, parse_frequency, parse_schedule

UTC = dt.timezone.utc

# Exceptions 0.18.1 exposed here; kept so ``except FrequencyDefinitionError`` still works.
FrequencyDefinitionError = ScheduleError


class CircularDAGError(Exception):
    """The jobs' ``depends_on`` form a cycle, or no job is at the root (``reorder_dag``)."""


def convert_frequency(frequency: str) -> int:
    """0.18.1's helper: ``'3h'`` -> 10800 seconds (FrequencyDefinitionError for a bad one)."""
    return parse_frequency(frequency)


def toposort(data: Mapping[Any, Iterable[Any]]) -> Iterator[set[Any]]:
    """Items (keys; their dependencies as values) in sets, each set depending only on earlier
    ones; self-dependencies are ignored and unknown dependencies become items. ValueError on a cycle."""
    if not data:
        return
    pending = {item: set(deps) - {item} for item, deps in data.items()}
    for extra in set().union(*pending.values()) - set(pending):
        pending[extra] = set()
    while True:
        ready = {item for item, deps in pending.items() if not deps}
        if not ready:
            break
        yield ready
        pending = {item: deps - ready for item, deps in pending.items() if item not in ready}
    if pending:
        raise ValueError("Cyclic dependencies exist among these items: "
                         + ", ".join(repr(item) for item in pending.items()))


def toposort_flatten(data: Mapping[Any, Iterable[Any]], sort: bool = True) -> list[Any]:
    """``toposort`` as one list, each level sorted (so the order is deterministic)."""
    return [item for level in toposort(data) for item in (sorted(level) if sort else list(level))]


def reorder_dag(sequence: Iterable[Any], depends_getter: Callable[[Any], Any] = lambda x: x.depends_on,
                name_getter: Callable[[Any], str] = lambda x: x.app_name, impatience_max: int = 100) -> list[Any]:
    """The items of ``sequence`` with every item after those it depends on (0.18.1's order).

    CircularDAGError when no item is free of dependencies or when they form a cycle; an
    item named only as a dependency is left out. (The runner orders jobs itself and, unlike
    0.18.1, runs the others when a dependency is not configured.)"""
    needs: dict[str, list[Any]] = {}
    by_name: dict[str, Any] = {}
    roots = 0
    for item in sequence:
        name = name_getter(item)
        depends_on = depends_on_list(depends_getter(item))
        roots += not depends_on
        needs.setdefault(name, []).extend(depends_on)
        by_name[name] = item
    if not roots:
        raise CircularDAGError("No job is at the root")
    try:
        ordered = toposort_flatten({name: set(deps) for name, deps in needs.items()})
    except ValueError as exc:
        raise CircularDAGError(exc) from None
    return [by_name[name] for name in ordered if name in by_name]


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
        now = self.crontabber_now or utc_now()
        if once:
            function()
            yield now
            return
        info = self.job_information
        if not info:
            function(now)
            yield now
            return
        # 0.18.1: first_run stands in only for rows written before last_success existed.
        last_success = info["last_success"] if "last_success" in info else info.get("first_run")
        if not last_success:
            self.config.logger.warning("No previous last_success information available")
            function(now)
            yield now
            return
        schedule = self.crontabber_schedule or _schedule_of(self.config)
        for when in schedule.backfill_dates(last_success, now):
            function(when)
            yield when

    def _run_proxy(self, *args: Any, **kwargs: Any) -> Any:
        """Indirection the mixins override to hand ``run`` a connection or transaction."""
        return self.run(*args, **kwargs)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define run()")


def _schedule_of(config: Any) -> Any:
    """A job driven by hand (no runner): its schedule from ``config.frequency`` and ``config.time``."""
    text = str(config["frequency"])
    if config.get("time"):
        text += f"|{config['time']}"
    return parse_schedule(text, UTC)


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
