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
from crontabber.state import Ledger

Handler = Callable[[argparse.Namespace, Mapping[str, str], TextIO, TextIO], int]


def _settings(args: argparse.Namespace, overrides: Mapping[str, str], err: TextIO,
              cached: bool = False) -> Settings:
    """The settings (``cached``: from the settings cache when nothing changed; a tick does)."""
    from crontabber import log_setup

    conf = args.conf or default_conf_path(os.environ)
    settings = load_settings(conf, overrides, cached=cached)
    if conf is None and not settings.jobs:
        raise ConfigError(f"no configuration: {_where_looked(os.environ)}; pass --admin.conf=FILE "
                          "(nothing was run or created)")
    log_setup.configure(settings.logging_options, err, args.debug)
    return settings


def _where_looked(environ: Mapping[str, str]) -> str:
    folder = environ.get("DEFAULT_SOCORRO_CONFIG_PATH", "").strip()
    if folder:
        return f"no --admin.conf, and no crontabber.ini in $DEFAULT_SOCORRO_CONFIG_PATH ({folder})"
    return f"no --admin.conf, and no {Path.cwd() / 'config' / 'crontabber.ini'}"


@contextlib.contextmanager
def _ledger(settings: Settings) -> Iterator[Ledger]:
    ledger = settings.open_ledger()
    try:
        yield ledger
    finally:
        ledger.close()


def run(args: argparse.Namespace, overrides: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from crontabber.runner import Runner

    settings = _settings(args, overrides, err, cached=True)
    if args.date and not args.job:
        raise UsageError("--date needs --job NAME (a backfill job)")
    if args.max_workers is not None and args.max_workers < 1:
        raise UsageError("--max-workers must be 1 or more")
    if args.job:
        settings.job(args.job)  # unknown job: exit 2 before the ledger is opened
    when = _parse_date(args.date) if args.date else None
    with _ledger(settings) as ledger:
        from crontabber.sentry import failure_reporter

        runner = Runner(settings, ledger, SystemClock(), max_workers=args.max_workers,
                        on_failure=failure_reporter(settings.sentry_dsn))
        if not args.job:
            runner.tick()
            return 0
        result = runner.run_date(args.job, when) if when else runner.run_job(args.job, force=args.force)
    if result.outcome.is_failure:
        from crontabber.log_setup import stderr_level

        if stderr_level() > logging.WARNING:  # otherwise the runner already said it in one line
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

    if args.format not in (None, "table", "json", "blocks"):
        raise UsageError(f"list --format {args.format}: use table, json or blocks")
    settings = _settings(args, overrides, err)
    with _ledger(settings) as ledger:
        states = ledger.load_all()
    if args.format == "blocks":
        from crontabber.cli import blocks

        blocks.render(settings, states, SystemClock().now(), out)
    else:
        listing.render(settings, states, SystemClock().now(), out, args.format or "table", utc=args.utc)
    return 0


def run_log(args: argparse.Namespace, overrides: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from crontabber.cli import runlog
    from crontabber.cli.listing import zone_name
    from crontabber.errors import JobNotFoundError

    if len(args.args) != 1:
        raise UsageError("log needs one job name: crontabber log NAME [-n RUNS] [--format json]")
    if args.runs is not None and args.runs < 1:
        raise UsageError("log -n RUNS must be 1 or more")
    settings = _settings(args, overrides, err)
    try:
        job = settings.job(args.args[0])
        name, backfill = job.app_name, job.is_backfill
    except JobNotFoundError:  # a job removed from the config still has its history
        job, name, backfill = None, args.args[0], False
    with _ledger(settings) as ledger:
        entries = ledger.logs(name, args.runs or 10)
    if job is None and not entries:
        settings.job(name)  # the "no job ... is configured (configured: ...)" error
    zone = dt.timezone.utc if args.utc else settings.timezone
    runlog.render(name, entries, backfill, zone, zone_name(zone), out, args.format or "table", args.runs or 10)
    return 0


def nagios(args: argparse.Namespace, overrides: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from crontabber.cli import nagios as check

    # A configuration or ledger error reaches cli.main, which prints it as the UNKNOWN line.
    settings = _settings(args, overrides, err)
    with _ledger(settings) as ledger:
        states, runners = ledger.load_all(), ledger.runners()
        interrupted = ledger.repeatedly_interrupted(check.INTERRUPTED_IN_A_ROW)
    code, line = check.report(settings, states, SystemClock().now(), runners, interrupted)
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
    """Send a test event; 0 only when the Sentry server answered 2xx within 10 s."""
    from crontabber.sentry import sentrytest as send_test

    ok, line = send_test(_settings(args, overrides, err).config)
    (out if ok else err).write(line + "\n")
    return 0 if ok else 1


def export_dags(args: argparse.Namespace, overrides: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from airflow_bridge.cli import export_command

    return export_command(_settings(args, overrides, err), args, out, err)


def import_crontab(args: argparse.Namespace, overrides: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from crontabber.legacy.crontab_import import import_command

    return import_command(args, out, err)


def _seeing(name: str) -> Handler:
    """A handler of ``cli.seeing`` (graph, status, metrics, forget-host), imported when used."""
    def handler(args: argparse.Namespace, overrides: Mapping[str, str], out: TextIO, err: TextIO) -> int:
        from crontabber.cli import seeing

        return getattr(seeing, name)(args, overrides, out, err)
    return handler


HANDLERS: dict[str, Handler] = {
    "run": run, "list": list_jobs, "nagios": nagios, "reset": reset, "configtest": configtest,
    "audit-ghosts": audit_ghosts, "sentrytest": sentrytest, "export-dags": export_dags,
    "import-crontab": import_crontab,
    "graph": _seeing("graph"), "status": _seeing("status"), "metrics": _seeing("metrics"),
    "forget-host": _seeing("forget_host"),
    "log": run_log,
}
