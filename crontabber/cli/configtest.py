"""``crontabber configtest``: check the configuration without opening the ledger.

Loading the settings already proves the jobs list, classes, schedules, zones and
graph; this adds the problems that do not stop a tick but need an operator:
dependencies that are not configured, and options accepted but not acted on.
"""

from __future__ import annotations

import importlib.util
from typing import TextIO

from crontabber.config.options import PER_JOB_KEYS
from crontabber.config.settings import Settings
from crontabber.jobs import missing_dependencies
from crontabber.log_setup import option
from crontabber.sentry import MISSING_SDK, configured_dsn, describe_dsn


def problems(settings: Settings) -> list[str]:
    """Configuration faults that make configtest fail (exit 2)."""
    found = [f"job {child!r} depends on {parent!r}, which is not configured: add {parent!r} to "
             f"crontabber.jobs or remove it from depends_on" for child, parent in missing_dependencies(settings.jobs)]
    for job in settings.jobs:  # checks a job kind can only make once the ledger URL is known
        check = getattr(job.job_class, "config_problems", None)
        found += check(job, settings) if check is not None else []
    return found


def notes(settings: Settings) -> list[str]:
    """Things that are fine but worth saying (accepted-but-unused and unknown options)."""
    result = [f"option {key} is accepted for crontabber 0.18.1 compatibility but not acted on"
              for key in settings.not_acted_on]
    result += [f"option {key} is not a crontabber option and is ignored{_connection_hint(key)}"
               for key in settings.unknown_options]
    if configured_dsn(settings.config) and importlib.util.find_spec("sentry_sdk") is None:
        result.append(MISSING_SDK)
    return result


def _alerting(settings: Settings, out: TextIO) -> None:
    """Where failures are reported beyond the ledger: Sentry (when configured) and syslog."""
    config = settings.config
    dsn = configured_dsn(config)
    out.write(f"sentry: {'job failures are sent to ' + describe_dsn(dsn) if dsn else 'off (no sentry.dsn)'}\n")
    host = option(config, "syslog_host").strip() or "localhost"
    where = host if host.startswith("/") else f"{host}:{option(config, 'syslog_port').strip()} (UDP)"
    out.write(f"syslog: log lines at level {option(config, 'syslog_error_logging_level')} and above to "
              f"{where}, facility {option(config, 'syslog_facility_string')}\n")


def _connection_hint(key: str) -> str:
    """Where a Python job's own database settings go, for a key written one level too high."""
    section, _, name = key.rpartition(".")
    if not section.startswith("crontabber.class-") or name not in ("host", "port", "dbname", "user", "password",
                                                                    "database_url"):
        return ""
    return (f"; a job using the PostgreSQL mixins reads its connection from a [[[database]]] subsection of "
            f"[[{section.split('.', 1)[1]}]]: host, port, dbname, user, password (each defaults to "
            "resource.postgresql's)")


def report(settings: Settings, out: TextIO, verbose: bool = False) -> int:
    """Print the findings; return 0 when the configuration is usable, 2 otherwise."""
    faults = problems(settings)
    for line in faults:
        out.write(f"ERROR: {line}\n")
    for line in notes(settings):
        out.write(f"note: {line}\n")
    if verbose:
        _verbose(settings, out)
    if faults:
        return 2
    why = f" ({settings.ledger.why})" if settings.ledger is not None else ""
    out.write(f"OK: {len(settings.jobs)} jobs configured; ledger {settings.ledger_name}{why}\n")
    return 0


def _verbose(settings: Settings, out: TextIO) -> None:
    _alerting(settings, out)
    out.write("global settings:\n")
    for key in sorted(set(settings.provenance)):
        if key.startswith("crontabber.") and key.count(".") == 1 and key != "crontabber.jobs":
            value = settings.config.crontabber[key.split(".", 1)[1]]
            if key == "crontabber.database_url":
                value = settings.ledger_name
            elif "password" in key:
                value = "***" if value else value
            out.write(f"  {key} = {value!s}  (from {settings.provenance[key]})\n")
    for job in settings.jobs:
        out.write(f"job {job.app_name} ({job.target})\n")
        out.write(f"  schedule               {job.entry.schedule_text}  (from {job.entry.where})\n")
        out.write(f"  depends_on             {', '.join(job.depends_on) or '-'}\n")
        out.write(f"  backfill               {'yes' if job.is_backfill else 'no'}\n")
        for key in PER_JOB_KEYS:
            value = getattr(job.settings, key)
            shown = ", ".join(value) if isinstance(value, tuple) else value
            shown = "-" if shown in (None, "") else shown
            out.write(f"  {key:<22} {shown}  (from {job.provenance.get(key, 'default')})\n")
        describe = getattr(job.job_class, "describe_config", None)  # shell and procedure jobs
        for key, shown in describe(job.config, settings) if describe is not None else ():
            out.write(f"  {key:<22} {shown}\n")
