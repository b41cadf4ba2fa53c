"""The jobs list: parse ``crontabber.jobs`` entries and order the job graph.

One entry per line; ``;`` also separates entries, and ``,`` does only when the
next entry starts (``dotted.name|`` or ``job:``) or nothing follows it, because cron
fields contain commas. ``#`` at the start of an entry or after a space starts a comment
(``1#2``, cron's "second Monday", is not one).
"""

from __future__ import annotations

import graphlib
import importlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crontabber.errors import ConfigError
from crontabber.schedule import CronSchedule, FrequencySchedule

_COMMA_SPLIT = re.compile(r",(?=\s*(?:job:|[A-Za-z_][\w.]*\s*\||$))")
_COMMENT = re.compile(r"(?:^|\s)#.*$")
_PYTHON_TARGET = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
_CONFIG_TARGET = re.compile(r"^job:(\S+)$")


@dataclass(frozen=True)
class JobEntry:
    """One entry of the jobs list, as written, and where it was written."""

    target: str
    schedule_text: str
    text: str
    where: str  # "crontabber.ini:14" or "crontabber.jobs entry 3"

    @property
    def is_config_job(self) -> bool:
        return self.target.startswith("job:")


@dataclass(frozen=True)
class JobSettings:
    """Per-job settings (``[[class-X]]``/``[[job-x]]`` over ``[crontabber]`` defaults); jobs without
    keys of their own share one instance, so it is never changed in place."""

    error_retry_time: float = 300.0
    timeout: float | None = None
    max_retries: int | None = None
    retry_backoff: float = 1.0
    nagios_critical_after: int | None = None
    overdue_warning: float | None = None
    overdue_critical: float | None = None
    on_airflow_since: Any = None  # aware datetime
    tags: tuple[str, ...] = ()
    owner: str = ""


@dataclass
class JobDefinition:
    """Everything the runner, ``list``, Nagios and the bridge know about one configured job."""

    app_name: str
    kind: str  # "python", "shell" or "procedure"
    target: str  # class path, or "job:<app_name>"
    entry: JobEntry
    schedule: FrequencySchedule | CronSchedule
    class_source: Any  # the job class, or (config-declared jobs) what builds it on first use
    section: str  # "class-<ClassName>" or "job-<app_name>"
    depends_on: tuple[str, ...] = ()
    settings: JobSettings = field(default_factory=JobSettings)
    provenance: dict[str, str] = field(default_factory=dict)
    _config: Any = field(default=None, repr=False)
    _config_parent: Any = field(default=None, repr=False)
    _config_values: Any = field(default=None, repr=False)
    _config_loader: Any = field(default=None, repr=False)  # builds the namespace (a job from the cache)

    def bind_config(self, namespace: Any, parent: Any, values: Mapping[str, Any] | None = None) -> None:
        """Attach the job's resolved configman namespace (None: it has none) and its parent, or,
        for a config-declared job, the plain values of its section."""
        self._config, self._config_parent, self._config_values = namespace, parent, values
        if namespace is not None:
            self._add_schedule_keys(namespace)
            self._add_logger(namespace)

    @property
    def config(self) -> Any:
        """What the job's constructor receives: its namespace, built on first use when it has none
        (with 10,000 jobs, building them all would cost an idle tick a second)."""
        if self._config is None and self._config_loader is not None:
            self._config = self._config_loader()
        if self._config is None:
            from configman.dotdict import DotDictWithAcquisition

            self._config = DotDictWithAcquisition(self._config_values)
            self._config._parent = self._config_parent
            self._add_schedule_keys(self._config)
            self._add_logger(self._config)
        return self._config

    def _add_logger(self, namespace: Any) -> None:
        """``self.config.logger``: the application's ``logger`` when its configuration has one (0.18.1
        apps and tests inject it), else ``crontabber.<app_name>``, whose records go to the runner's
        handlers."""
        try:
            namespace.logger  # noqa: B018  (configman namespaces acquire it from their parents)
        except (KeyError, AttributeError):
            import logging

            namespace["logger"] = logging.getLogger(f"crontabber.{self.app_name}")

    def _add_schedule_keys(self, namespace: Any) -> None:
        """0.18.1 gave each job ``frequency`` and ``time``; ``schedule`` is the whole text."""
        text = self.entry.schedule_text
        time = getattr(self.schedule, "time", None)
        frequency = text.split("|")[0].strip() if hasattr(self.schedule, "seconds") else text
        namespace["frequency"] = "1d" if ":" in frequency else frequency  # "|03:00" is 1d at 03:00
        namespace["time"] = "{:02d}:{:02d}".format(*time) if time else None
        namespace["schedule"] = text

    @property
    def job_class(self) -> type:
        """The class the runner instantiates (built now if this job's class was deferred)."""
        if not isinstance(self.class_source, type):
            self.class_source = self.class_source()
        return self.class_source

    @property
    def is_backfill(self) -> bool:
        return bool(getattr(self.job_class, "_is_backfill_app", False))

    @property
    def description(self) -> str:
        return (getattr(self.job_class, "app_description", "") or "").strip()

    def matches(self, name: str) -> bool:
        """``--job`` accepts an app name or a class path (0.18.1)."""
        return name in (self.app_name, self.target)


def split_entries(text: str) -> list[tuple[int, str]]:
    """Jobs-list text -> (line number within the text, entry) pairs, comments dropped."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = _COMMENT.sub("", line)
        for chunk in line.split(";"):
            for piece in _COMMA_SPLIT.split(chunk):
                piece = piece.strip()
                if piece:
                    entries.append((number, piece))
    return entries


def parse_entry(text: str, where: str) -> JobEntry:
    """``target|schedule`` -> JobEntry, or a ConfigError naming the entry and the fix."""
    if "|" not in text:
        raise ConfigError(f"{where}: jobs entry {text!r} has no schedule: write it as "
                          "module.Class|1h, module.Class|1d|03:00, module.Class|0 3 * * * "
                          "or job:name|1h")
    target, schedule_text = (part.strip() for part in text.split("|", 1))
    if not (_PYTHON_TARGET.match(target) or _CONFIG_TARGET.match(target)):
        raise ConfigError(f"{where}: jobs entry {text!r}: {target!r} is neither a dotted "
                          "module.Class path nor job:<app_name>")
    return JobEntry(target=target, schedule_text=schedule_text, text=text, where=where)


def import_job_class(entry: JobEntry) -> type:
    """Import ``module.Class`` of a Python job, reporting failures in one line."""
    module_name, _, class_name = entry.target.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{entry.where}: job {entry.target!r}: cannot import module "
                          f"{module_name!r} ({exc}); check the spelling and that it is on "
                          "PYTHONPATH") from exc
    except Exception as exc:
        raise ConfigError(f"{entry.where}: job {entry.target!r}: importing {module_name!r} "
                          f"failed: {type(exc).__name__}: {exc}") from exc
    job_class = getattr(module, class_name, None)
    if not isinstance(job_class, type):
        raise ConfigError(f"{entry.where}: job {entry.target!r}: module {module_name!r} has no "
                          f"class {class_name!r}")
    if not getattr(job_class, "app_name", None):
        raise ConfigError(f"{entry.where}: job {entry.target!r}: the class has no app_name; "
                          "add app_name = '...' to it")
    return job_class


def order_jobs(jobs: Iterable[JobDefinition]) -> list[JobDefinition]:
    """Topological order over ``depends_on``, alphabetical within a level; a cycle is an error.

    Dependencies that are not configured are left out of the order (the runner skips
    the child and ``configtest`` reports it).
    """
    by_name = {job.app_name: job for job in jobs}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for name, job in by_name.items():
        sorter.add(name, *(parent for parent in job.depends_on if parent in by_name and parent != name))
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise ConfigError(f"dependency cycle: {cycle}; remove one of these depends_on") from None
    ordered = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        ordered.extend(by_name[name] for name in ready)
        sorter.done(*ready)
    return ordered


def missing_dependencies(jobs: Iterable[JobDefinition]) -> list[tuple[str, str]]:
    """(child, parent) pairs where the parent is not a configured job."""
    jobs = list(jobs)
    names = {job.app_name for job in jobs}
    return [(job.app_name, parent) for job in jobs for parent in job.depends_on if parent not in names]
