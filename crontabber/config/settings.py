"""The resolved configuration (``Settings``) and how a command gets it (``load_settings``).

configman resolves the ini file, then the environment, then the command line (last wins);
``loading`` does that, and a tick may instead get the same settings from ``cache`` when nothing
they came from changed. Either way every job is a ``JobDefinition``, in dependency order.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crontabber import _compat  # noqa: F401
from crontabber.config.options import LOGGING_DEFAULTS
from crontabber.errors import ConfigError
from crontabber.state import Ledger, open_ledger, redact_url

if TYPE_CHECKING:
    from crontabber.config.ledger import LedgerChoice
    from crontabber.jobs import JobDefinition


@dataclass
class Settings:
    """The resolved configuration: global settings, the ordered jobs, and provenance."""

    conf_path: Path | None
    config: Any  # configman's DotDictWithAcquisition
    jobs: list[JobDefinition]
    timezone: dt.tzinfo
    database_url: str
    error_retry_time: float
    max_ongoing_age_hours: float
    max_workers: int
    provenance: dict[str, str] = field(default_factory=dict)
    not_acted_on: list[str] = field(default_factory=list)
    unknown_options: list[str] = field(default_factory=list)
    runner_silent_after: float | None = None  # None: judged from each host's own ticks
    ledger: LedgerChoice | None = None  # where the ledger is and why (None: database_url)
    config_warnings: list[str] = field(default_factory=list)  # unknown crontabber.* keys, one line each
    sqlite_group_access: bool = False
    logging_options: dict[str, str] = field(default_factory=lambda: dict(LOGGING_DEFAULTS))
    sentry_dsn: str = ""
    secrets: list[str] = field(default_factory=list)  # every password the configuration holds

    def open_ledger(self, read_only: bool = False) -> Ledger:
        """Open the configured ledger (LedgerError when it cannot be reached)."""
        if self.ledger is not None:
            return self.ledger.open(read_only, group_access=self.sqlite_group_access)
        return open_ledger(self.database_url, read_only=read_only, group_access=self.sqlite_group_access)

    @property
    def ledger_name(self) -> str:
        """The ledger, safe to print."""
        return self.ledger.name if self.ledger is not None else redact_url(self.database_url)

    def job(self, name: str) -> JobDefinition:
        """The job with this app name or class path, or JobNotFoundError listing the names."""
        from crontabber.errors import JobNotFoundError

        for job in self.jobs:
            if job.matches(name):
                return job
        known = ", ".join(job.app_name for job in self.jobs) or "none"
        raise JobNotFoundError(f"no job {name!r} is configured (configured: {known})")


def default_conf_path(environ: Mapping[str, str], cwd: Path | None = None) -> Path | None:
    """0.18.1's implicit config: ``crontabber.ini`` in ``$DEFAULT_SOCORRO_CONFIG_PATH`` or ``./config``.

    Used only when ``--admin.conf`` is not given, so a crontab line that relied on it keeps working.
    A folder named by the variable must exist (0.18.1 raised IOError); ``./config`` is optional."""
    folder = environ.get("DEFAULT_SOCORRO_CONFIG_PATH", "").strip()
    if folder:
        if not Path(folder).is_dir():
            raise ConfigError(f"DEFAULT_SOCORRO_CONFIG_PATH={folder!r} is not a folder: fix the variable "
                              "or pass --admin.conf=FILE")
        candidate = Path(folder) / "crontabber.ini"
    else:
        candidate = (cwd or Path.cwd()) / "config" / "crontabber.ini"
    return candidate if candidate.is_file() else None


def load_settings(conf_path: str | Path | None = None, overrides: Mapping[str, str] | None = None,
                  environ: Mapping[str, str] | None = None, cached: bool = False) -> Settings:
    """Read the configuration and the jobs it names; raise ConfigError on anything invalid.

    ``cached``: serve the settings of an unchanged configuration from the settings cache (a
    tick does; see ``config.cache``), and refresh the cache after a full load."""
    path = Path(conf_path) if conf_path else None
    if path is not None and not path.is_file():
        raise ConfigError(f"config file {path} not found: check --admin.conf")
    if cached and path is not None:
        from crontabber.config.cache import SettingsCache

        cache = SettingsCache(path, os.environ if environ is None else environ, overrides or {})
        hit = cache.load(lambda: load_settings(path, overrides, environ))
        if hit is not None:
            return hit
        settings = load_settings(path, overrides, environ)
        cache.store(settings)
        return settings
    from crontabber.config.loading import load

    return load(path, overrides, environ)


