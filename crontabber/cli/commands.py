"""What each subcommand does, a few lines each over the core modules."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TextIO

from crontabber.clock import SystemClock
from crontabber.config.options import parse_instant
from crontabber.config.settings import Settings, default_conf_path, load_settings
from crontabber.errors import ConfigError, UsageError
from crontabber.outcomes import Outcome
from crontabber.redaction import RedactingFilter
from crontabber.state import Ledger, open_ledger

log = logging.getLogger("crontabber")
Handler = Callable[[argparse.Namespace, Mapping[str, str], TextIO, TextIO], int]


def _settings(args: argparse.Namespace, overrides: Mapping[str, str], err: TextIO) -> Settings:
    conf = args.conf or default_conf_path(os.environ)
    settings = load_settings(conf, overrides)
    if conf is None and not settings.jobs:
        raise ConfigError(f"no configuration: {_where_looked(os.environ)}; pass --admin.conf=FILE "
                          "(nothing was run or created)")
    _configure_logging(settings, err, args.debug)
    return settings


def _where_looked(environ: Mapping[str, str]) -> str:
    folder = environ.get("DEFAULT_SOCORRO_CONFIG_PATH", "").strip()
    if folder:
        return f"no --admin.conf, and no crontabber.ini in $DEFAULT_SOCORRO_CONFIG_PATH ({folder})"
    return f"no --admin.conf, and no {Path.cwd() / 'config' / 'crontabber.ini'}"


def _configure_logging(settings: Settings, err: TextIO, debug: bool) -> None:
    """stderr logging as 0.18.1's ``logging.stderr_*`` options say (one line per event)."""
    config = settings.config

    def option(name: str) -> str:
        return str(config.logging[name] or config.resource.logging[name])

    level = logging.DEBUG if debug else int(option("stderr_error_logging_level"))
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter(option("stderr_line_format_string"), style="{"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("crontabber")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
    if config.sentry.dsn or config.secrets.sentry.dsn:
        log.warning("sentry.dsn is configured but this version does not send errors to Sentry; "
                    "use 'crontabber nagios' or the ledger to watch failures")


@contextlib.contextmanager
def _ledger(settings: Settings) -> Iterator[Ledger]:
    ledger = open_ledger(settings.database_url, group_access=settings.sqlite_group_access)
    try:
        yield ledger
    finally:
        ledger.close()


def run(args: argparse.Namespace, overrides: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from crontabber.runner import Runner

    settings = _settings(args, overrides, err)
    if args.date and not args.job:
        raise UsageError("--date needs --job NAME (a backfill job)")
    if args.max_workers is not None and args.max_workers < 1:
        raise UsageError("--max-workers must be 1 or more")
    if args.job:
        settings.job(args.job)  # unknown job: exit 2 before the ledger is opened
    when = _parse_date(args.date) if args.date else None
    with _ledger(settings) as ledger:
        runner = Runner(settings, ledger, SystemClock(), max_workers=args.max_workers)
        if not args.job:
            runner.tick()
            return 0
        result = runner.run_date(args.job, when) if when else runner.run_job(args.job, force=args.force)
    if result.outcome.is_failure:
        if not log.isEnabledFor(logging.WARNING):  # otherwise the runner already said it in one line
            err.write(f"crontabber: job {result.app_name} {result.outcome.value}: {result.reason}\n")
        return 1
    if not result.outcome.ran:
        out.write(f"{result.app_name} did not run: {_why(result.outcome, result.reason)}\n")
    return 0


def _why(outcome: Outcome, reason: str) -> str:
    if outcome is Outcome.NOT_DUE:
        return "it is not due yet (use --force to run it anyway)"
    if outcome is Outcome.SKIPPED_DEPENDENCY:
        return f"{reason} (use --force to run it anyway)"
    return reason or outcome.value


def _parse_date(text: str) -> dt.datetime:
    try:
        return parse_instant(text if "T" in text or " " in text else f"{text}T00:00:00+00:00")
    except ValueError:
        raise UsageError(f"--date {text!r}: use YYYY-MM-DD or an ISO 8601 instant") from None


def list_jobs(args: argparse.Namespace, overrides: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from crontabber.cli import listing

    settings = _settings(args, overrides, err)
    with _ledger(settings) as ledger:
        states = ledger.load_all()
    listing.render(settings, states, SystemClock().now(), out, args.format)
    return 0


def nagios(args: argparse.Namespace, overrides: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from crontabber.cli import nagios as check

    # A configuration or ledger error reaches cli.main, which prints it as the UNKNOWN line.
    settings = _settings(args, overrides, err)
    with _ledger(settings) as ledger:
        states = ledger.load_all()
        interrupted = ledger.repeatedly_interrupted(check.INTERRUPTED_IN_A_ROW)
    code, line = check.report(settings, states, SystemClock().now(), interrupted)
    out.write(line + "\n")
    return code


def reset(args: argparse.Namespace, overrides: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    if len(args.args) != 1:
        raise UsageError("reset needs one job name: crontabber reset NAME")
    settings = _settings(args, overrides, err)
    job = settings.job(args.args[0])
    with _ledger(settings) as ledger:
        existed = ledger.reset(job.app_name)
    out.write(f"{job.app_name}: {'reset; it runs as if new' if existed else 'already reset'}\n")
    return 0


def configtest(args: argparse.Namespace, overrides: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from crontabber.cli import configtest as check

    return check.report(_settings(args, overrides, err), out, verbose=args.verbose, strict=args.strict)


def audit_ghosts(args: argparse.Namespace, overrides: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    settings = _settings(args, overrides, err)
    with _ledger(settings) as ledger:
        ghosts = sorted(set(ledger.load_all()) - {job.app_name for job in settings.jobs})
    if ghosts:
        out.write("Found the following in the state database but not available as a configured job:\n")
        out.writelines(f"\t{name}\n" for name in ghosts)
    return 0


def sentrytest(args: argparse.Namespace, overrides: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    settings = _settings(args, overrides, err)
    if not (settings.config.sentry.dsn or settings.config.secrets.sentry.dsn):
        raise UsageError("sentry.dsn is not configured")
    out.write("sentry.dsn is configured, but this version does not send errors to Sentry\n")
    return 2


def export_dags(args: argparse.Namespace, overrides: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from airflow_bridge.cli import export_command

    return export_command(_settings(args, overrides, err), args, out, err)


def import_crontab(args: argparse.Namespace, overrides: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from crontabber.legacy.crontab_import import import_command

    return import_command(args, out, err)


HANDLERS: dict[str, Handler] = {
    "run": run, "list": list_jobs, "nagios": nagios, "reset": reset, "configtest": configtest,
    "audit-ghosts": audit_ghosts, "sentrytest": sentrytest, "export-dags": export_dags,
    "import-crontab": import_crontab,
}
