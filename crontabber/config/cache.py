"""The resolved settings of a tick, kept between ticks so an idle tick skips configman and the
job modules (about two thirds of its cost with 200 jobs).

A cron-started runner reads the same crontabber.ini every few minutes. After a load that
succeeded, what the tick needs (global settings, each job's schedule, settings and
dependencies, the configuration warnings, the logging options) is written as JSON to
``$CRONTABBER_CACHE_DIR`` (default ``~/.cache/crontabber``), private to the user. A later tick
uses it when nothing it was made from changed: the ini's bytes, the job modules' files (size
and modification time), the environment and command-line overrides, the interpreter's
``sys.path``, and crontabber's own code. Anything else (a change, a configuration error, an
``+include``, a deployment's own connection class) means a full load, so an error shows on
every tick that would show it; the warnings stored are logged on every tick as before. A job
from the cache imports its class and builds its configuration only when it runs: then the
whole configuration is loaded once, exactly as without a cache. ``CRONTABBER_CACHE_DIR=off``
turns the cache off.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sys
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crontabber import __version__

if TYPE_CHECKING:
    from crontabber.config.settings import Settings
    from crontabber.jobs import JobDefinition

FORMAT = 1
_PACKAGE = Path(__file__).resolve().parent.parent


def cache_folder(environ: Mapping[str, str]) -> Path | None:
    """Where the cache lives (None: turned off)."""
    chosen = environ.get("CRONTABBER_CACHE_DIR", "").strip()
    if chosen.lower() in ("off", "0", "false", "no"):
        return None
    if chosen:
        return Path(chosen)
    base = environ.get("XDG_CACHE_HOME", "").strip() or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "crontabber"


class SettingsCache:
    """The cache entry of one configuration file, keyed by everything its settings depend on."""

    def __init__(self, conf_path: Path, environ: Mapping[str, str], overrides: Mapping[str, str]) -> None:
        folder = cache_folder(environ)
        self.conf = str(conf_path.resolve())
        name = f"settings-{conf_path.stem[:40]}-{zlib.crc32(self.conf.encode()):08x}.json"
        self.path = None if folder is None else folder / name  # the entry also holds the full path
        self.conf_path = conf_path
        self._environ = {key: value for key, value in environ.items() if "__" in key or key in (
            "PYTHONPATH", "DEFAULT_SOCORRO_CONFIG_PATH", "CRONTABBER_HOST", "TZ")}
        self._overrides = dict(overrides)

    def _key(self) -> list[Any]:
        """Everything the settings depend on but the job modules, compared whole (no hashing: a
        tick would pay ~6 ms to import hashlib); files by size, modification and change time."""
        return [FORMAT, __version__, sys.version, sys.path, _code_stamp(), self.conf, _stamp(self.conf),
                sorted(self._environ.items()), sorted(self._overrides.items())]

    def load(self, full: Callable[[], Settings]) -> Settings | None:
        """The cached settings when still valid (``full`` loads them for real when a job runs)."""
        if self.path is None:
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("key") != json.loads(json.dumps(self._key())):  # as JSON would give it back
                return None
            if any(_stamp(path) != stamp for path, stamp in data["files"]):
                return None
            return _settings_from(data, self.conf_path, full)
        except (OSError, ValueError, KeyError, TypeError):
            return None  # no entry, another format, or a file that changed while we read it

    def store(self, settings: Settings) -> None:
        """Write the entry for ``settings`` (nothing when they cannot be rebuilt from data)."""
        if self.path is None or (settings.ledger is not None and settings.ledger.factory is not None):
            return
        try:
            if b"+include" in self.conf_path.read_bytes():  # the included files would belong in the key
                return
            data = {"key": self._key(), "files": _module_files(settings), **_settings_data(settings)}
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds passwords
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(data))  # dumps is C; dump streams through Python
            os.replace(temporary, self.path)
        except (OSError, TypeError, ValueError):
            pass  # a cache that cannot be written costs the next tick a full load, nothing more


def _stamp(path: str) -> list[int] | None:
    """A file's size, modification and change times (a rewrite changes the change time even when
    the other two are put back)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def _code_stamp() -> list[Any]:
    """crontabber's own code, so an upgrade (or an edit of an editable install) is a new key."""
    return [[str(path), _stamp(str(path))] for path in sorted(_PACKAGE.rglob("*.py"))]


def _module_files(settings: Settings) -> list[list[Any]]:
    """The files of every job module and of the packages above it, with their stamps."""
    files = set()
    for job in settings.jobs:
        if job.kind != "python":
            continue
        module = job.job_class.__module__
        parts = module.split(".")
        for depth in range(1, len(parts) + 1):
            loaded = sys.modules.get(".".join(parts[:depth]))
            path = getattr(loaded, "__file__", None)
            if path:
                files.add(path)
    return [[path, _stamp(path)] for path in sorted(files)]


def _settings_data(settings: Settings) -> dict[str, Any]:
    return {
        "timezone": str(settings.timezone), "database_url": settings.database_url,
        "ledger": None if settings.ledger is None else [settings.ledger.url, settings.ledger.why],
        "error_retry_time": settings.error_retry_time, "max_ongoing_age_hours": settings.max_ongoing_age_hours,
        "max_workers": settings.max_workers, "runner_silent_after": settings.runner_silent_after,
        "config_warnings": settings.config_warnings, "sqlite_group_access": settings.sqlite_group_access,
        "logging_options": settings.logging_options, "sentry_dsn": settings.sentry_dsn,
        "secrets": settings.secrets, "unknown_options": settings.unknown_options,
        "jobs": [_job_data(job) for job in settings.jobs],
    }


def _job_data(job: JobDefinition) -> dict[str, Any]:
    values = dataclasses.asdict(job.settings)
    since = values["on_airflow_since"]
    values["on_airflow_since"] = since.isoformat() if since is not None else None
    return {"app_name": job.app_name, "kind": job.kind, "target": job.target,
            "entry": [job.entry.target, job.entry.schedule_text, job.entry.text, job.entry.where],
            "section": job.section, "depends_on": list(job.depends_on), "settings": values}


def _settings_from(data: dict[str, Any], conf_path: Path, full: Callable[[], Settings]) -> Settings:
    from crontabber.config.ledger import LedgerChoice
    from crontabber.config.settings import Settings
    from crontabber.redaction import remember
    from crontabber.schedule import parse_zone

    remember(*data["secrets"])
    loaded: list[Settings] = []

    def real() -> Settings:  # the whole configuration, loaded once, when a job needs it
        if not loaded:
            loaded.append(full())
        return loaded[0]

    zone = parse_zone(data["timezone"])
    settings = Settings(
        conf_path=conf_path, config=_Deferred(lambda: real().config), jobs=[],
        timezone=zone, database_url=data["database_url"],
        ledger=None if data["ledger"] is None else LedgerChoice(*data["ledger"]),
        error_retry_time=data["error_retry_time"], max_ongoing_age_hours=data["max_ongoing_age_hours"],
        max_workers=data["max_workers"], runner_silent_after=data["runner_silent_after"],
        config_warnings=data["config_warnings"], sqlite_group_access=data["sqlite_group_access"],
        logging_options=data["logging_options"], sentry_dsn=data["sentry_dsn"], secrets=data["secrets"],
        unknown_options=data["unknown_options"])
    settings.jobs = [_job_from(job, zone, real) for job in data["jobs"]]
    return settings


def _job_from(data: dict[str, Any], zone: dt.tzinfo, real: Callable[[], Settings]) -> JobDefinition:
    from crontabber.jobs import JobDefinition, JobEntry, JobSettings
    from crontabber.schedule import parse_schedule

    values = dict(data["settings"])
    since = values["on_airflow_since"]
    values["on_airflow_since"] = dt.datetime.fromisoformat(since) if since is not None else None
    values["tags"] = tuple(values["tags"])
    name = data["app_name"]
    entry = JobEntry(*data["entry"])
    job = JobDefinition(
        app_name=name, kind=data["kind"], target=data["target"], entry=entry,
        schedule=parse_schedule(entry.schedule_text, zone), section=data["section"],
        class_source=lambda: real().job(name).job_class, depends_on=tuple(data["depends_on"]),
        settings=JobSettings(**values))  # provenance: configtest's, which loads in full
    job._config_loader = lambda: real().job(name).config
    return job


class _Deferred:
    """A configman configuration that is loaded only when something looks into it."""

    def __init__(self, load: Callable[[], Any]) -> None:
        self._load = load

    def __getattr__(self, name: str) -> Any:
        return getattr(self._load(), name)

    def __getitem__(self, key: str) -> Any:
        return self._load()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._load()

    def get(self, key: str, default: Any = None) -> Any:
        return self._load().get(key, default)
