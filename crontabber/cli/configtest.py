"""``crontabber configtest``: check the configuration without opening the ledger.

Loading the settings already proves the jobs list, classes, schedules, zones and
graph; this adds what opening the ledger would refuse (the same line the run gives),
and the problems that do not stop a tick but need an operator: dependencies that are
not configured, unknown ``crontabber.*`` keys (errors with ``--strict``), and options
accepted but not acted on.
"""

from __future__ import annotations

import importlib.util
from typing import TextIO

from crontabber.config.options import PER_JOB_KEYS
from crontabber.config.settings import Settings
from crontabber.jobs import missing_dependencies
from crontabber.redaction import redact
from crontabber.sentry import MISSING_SDK, describe_dsn
from crontabber.state import check_url


def problems(settings: Settings) -> list[str]:
    """Configuration faults that make configtest fail (exit 2)."""
    if settings.database_url:  # what opening the ledger would refuse, in the same words
        check_url(settings.database_url)
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
    if settings.sentry_dsn and importlib.util.find_spec("sentry_sdk") is None:
        result.append(MISSING_SDK)
    return result


def _alerting(settings: Settings, out: TextIO) -> None:
    """Where failures are reported beyond the ledger: Sentry (when configured) and syslog."""
    options, dsn = settings.logging_options, settings.sentry_dsn
    out.write(f"sentry: {'job failures are sent to ' + describe_dsn(dsn) if dsn else 'off (no sentry.dsn)'}\n")
    host = options["syslog_host"].strip() or "localhost"
    where = host if host.startswith("/") else f"{host}:{options['syslog_port'].strip()} (UDP)"
    out.write(f"syslog: log lines at level {options['syslog_error_logging_level']} and above to "
              f"{where}, facility {options['syslog_facility_string']}\n")


def report(settings: Settings, out: TextIO, verbose: bool = False, strict: bool = False) -> int:
    """Print the findings; return 0 when the configuration is usable, 2 otherwise (with
    ``strict``, an unknown ``crontabber.*`` key counts as a fault)."""
    faults = problems(settings)
    for line in faults:
        out.write(f"ERROR: {redact(line)}\n")
    for line in settings.config_warnings:
        out.write(f"{'ERROR' if strict else 'warning'}: {redact(line)}\n")
    for line in notes(settings):
        out.write(f"note: {redact(line)}\n")
    if verbose:
        _verbose(settings, out)
    if faults or (strict and settings.config_warnings):
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
            out.write(f"  {key} = {redact(str(value))}  (from {settings.provenance[key]})\n")
    for job in settings.jobs:
        out.write(f"job {job.app_name} ({job.target})\n")
        out.write(f"  schedule               {job.entry.schedule_text}  (from {job.entry.where})\n")
        out.write(f"  depends_on             {', '.join(job.depends_on) or '-'}\n")
        out.write(f"  backfill               {'yes' if job.is_backfill else 'no'}\n")
        for key in PER_JOB_KEYS:
            value = getattr(job.settings, key)
            shown = ", ".join(value) if isinstance(value, tuple) else value
            shown = "-" if shown in (None, "") else shown
            out.write(f"  {key:<22} {redact(str(shown))}  (from {job.provenance.get(key, 'default')})\n")
        describe = getattr(job.job_class, "describe_config", None)  # shell and procedure jobs
        for key, shown in describe(job.config, settings) if describe is not None else ():
            out.write(f"  {key:<22} {redact(str(shown))}\n")
