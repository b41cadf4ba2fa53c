"""The ``crontabber`` command: parse the command line and delegate (design §6).

Every crontabber 0.18.1 flag still works (``--job``, ``--list-jobs``, ``--nagios``...)
beside the subcommands. ``--<namespace>.<option>=value`` overrides any configuration
option. Exit codes: 0 tick ran, 1 the ``--job`` failed, 2 configuration or usage,
3 ledger, 143/130 stopped by SIGTERM/SIGINT (running jobs recorded as interrupted), 141 the
reader of stdout went away; Nagios uses its own 0-3.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from crontabber import __version__, supervision
from crontabber.errors import ConfigError, CrontabberError, LedgerError, UsageError
from crontabber.redaction import redact
from crontabber.supervision import Interrupted

SUBCOMMANDS = ("run", "list", "nagios", "reset", "configtest", "audit-ghosts", "export-dags",
               "import-crontab", "log", "graph", "status", "metrics", "forget-host")
LEGACY_FLAGS = {"list_jobs": "list", "nagios": "nagios", "reset_job": "reset",
                "configtest": "configtest", "audit_ghosts": "audit-ghosts", "sentrytest": "sentrytest"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit 2, as design §6 asks
        raise UsageError(f"{message} (see crontabber --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="crontabber", description="Run cron jobs with dependencies, retries, "
                     "backfill, locking and a ledger; export them as Airflow DAGs.",
                     epilog="subcommands: " + ", ".join(SUBCOMMANDS) + " (default: run). "
                     "Any option can be set with --<section>.<name>=<value>, e.g. "
                     "--crontabber.error_retry_time=10m.")
    parser.add_argument("command", nargs="?", choices=SUBCOMMANDS, default=None,
                        help="what to do (default: run)")
    parser.add_argument("args", nargs="*", help="the subcommand's arguments (reset: a job name; "
                        "import-crontab: a crontab file; log: a job name; forget-host: a runner host)")
    parser.add_argument("--admin.conf", dest="conf", metavar="FILE", help="the crontabber.ini to read")
    parser.add_argument("-j", "--job", help="run only this job (app name or module.Class)")
    parser.add_argument("-f", "--force", action="store_true", help="with --job: run even if not due "
                        "or blocked by a dependency")
    parser.add_argument("--date", help="with --job: run a backfill job for this one date (YYYY-MM-DD "
                        "or ISO instant)")
    parser.add_argument("--max-workers", type=int, help="run up to N independent jobs at once")
    parser.add_argument("--format", choices=("table", "json", "blocks", "dot", "mermaid", "svg", "png"),
                        default=None, help="list: table (default), json, or blocks (0.18.1's --list-jobs "
                        "format); graph: dot (default), mermaid, svg or png")
    parser.add_argument("--utc", action="store_true", help="list and log: show times in UTC instead of "
                        "crontabber.timezone")
    parser.add_argument("--verbose", action="store_true", help="configtest: show every setting and "
                        "where it came from; export-dags: every note, also of unchanged files")
    parser.add_argument("--runs", type=int, metavar="N", help="log: show the last N runs (default 10; "
                        "also -n N after 'log')")
    parser.add_argument("--strict", action="store_true", help="configtest: unknown crontabber.* "
                        "options are errors (exit 2)")
    parser.add_argument("--debug", action="store_true", help="log debug lines and show tracebacks")
    parser.add_argument("-l", "--list-jobs", action="store_true", help="0.18.1's listing: 'list --format blocks'")
    parser.add_argument("-n", "--nagios", action="store_true", help="0.18.1 spelling of 'nagios'")
    parser.add_argument("-r", "--reset-job", metavar="JOB", help="0.18.1 spelling of 'reset JOB'")
    parser.add_argument("--configtest", action="store_true", help="0.18.1 spelling of 'configtest'")
    parser.add_argument("--audit-ghosts", action="store_true", help="0.18.1 spelling of 'audit-ghosts'")
    parser.add_argument("--sentrytest", action="store_true", help="check the Sentry configuration")
    parser.add_argument("-v", "--version", action="store_true", help="print the version and exit")
    # export-dags and import-crontab
    parser.add_argument("--output", "-o", help="export-dags: the folder; import-crontab: the ini file")
    parser.add_argument("--mode", choices=("bridge", "native"), default="bridge", help="export-dags mode")
    parser.add_argument("--jobs", help="export-dags: only these app names (comma-separated)")
    parser.add_argument("--check", action="store_true", help="export-dags: load and serialize the "
                        "DAGs with Airflow")
    parser.add_argument("--system", action=argparse.BooleanOptionalAction, default=None,
                        help="import-crontab: the sixth field of each line is a user (a system crontab); "
                        "--no-system: it is the command (default: a user column only when every line's "
                        "sixth field is a user of this host)")
    parser.add_argument("--prune", action="store_true", help="export-dags: delete DAG files of jobs "
                        "that no longer exist")
    # graph, status, metrics
    parser.add_argument("--cluster", choices=("runs-on", "tag", "none"), default="runs-on",
                        help="graph: group the jobs by where they run (default) or by their first tag")
    parser.add_argument("--html", metavar="FILE", help="status: write the status page to FILE (atomically)")
    parser.add_argument("--airflow-url", metavar="URL", help="graph, status: the Airflow web UI, to link "
                        "each job on Airflow to its DAG")
    parser.add_argument("--textfile", metavar="DIR", help="metrics: write crontabber.prom into the node "
                        "exporter's textfile folder (atomically)")
    parser.add_argument("--config-variable", help="export-dags: the Airflow Variable holding the path of "
                        "crontabber.ini (default crontabber_config)")
    parser.add_argument("--dag-id-prefix", help="export-dags: put this before every dag_id (default none)")
    parser.add_argument("--var", action="append", metavar="KEY[=NAME]", help="export-dags --mode native: "
                        "take a shell job's env KEY (or cwd) from the Airflow Variable NAME (default KEY)")
    return parser


def parse(argv: Sequence[str]) -> tuple[argparse.Namespace, dict[str, str]]:
    """Our flags, and ``--a.b=c`` configuration overrides, from ``argv``."""
    parser = build_parser()
    args, rest = parser.parse_known_args(_log_runs_flag(list(argv)))
    overrides: dict[str, str] = {}
    index = 0
    while index < len(rest):
        token = rest[index]
        if token.startswith("--") and "." in token.split("=", 1)[0]:
            key, equals, value = token[2:].partition("=")
            if not equals:
                if index + 1 >= len(rest):
                    raise UsageError(f"option --{key} needs a value (--{key}=VALUE)")
                index += 1
                value = rest[index]
            overrides[key] = value
        else:
            raise UsageError(f"unrecognized argument {token!r} (see crontabber --help)")
        index += 1
    if args.command is None:
        args.command = next((command for flag, command in LEGACY_FLAGS.items() if getattr(args, flag)), "run")
        if args.reset_job:
            args.args = [args.reset_job]
    if args.format is None and args.list_jobs:  # 0.18.1's flag keeps 0.18.1's listing
        args.format = "blocks"
    return args, overrides


def _log_runs_flag(argv: list[str]) -> list[str]:
    """``log JOB -n 5``: after ``log``, ``-n N`` means ``--runs N`` (elsewhere ``-n`` is 0.18.1's --nagios)."""
    if "log" not in argv:
        return argv
    result = list(argv)
    for index in range(argv.index("log") + 1, len(argv)):
        token = argv[index]
        if token == "-n" and index + 1 < len(argv) and argv[index + 1].isdigit():
            result[index] = "--runs"
        elif token.startswith("-n") and token[2:].isdigit():
            result[index] = "--runs=" + token[2:]
    return result


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; return the exit code (never raises for an operator's mistake).

    Called as the ``crontabber`` command (no ``argv``), it also installs the SIGTERM/SIGINT
    handlers that stop running jobs and record them as interrupted (exit 143/130)."""
    as_command = argv is None
    if as_command:
        supervision.install_signal_handlers()
    code = _main(sys.argv[1:] if argv is None else argv, out or sys.stdout, err or sys.stderr)
    if as_command:
        stop = supervision.installed_stop()
        if stop is not None and stop.requested and code == 0:  # asked to stop between two steps
            (err or sys.stderr).write(f"crontabber: {stop.reason}\n")
            code = stop.exit_code
        _end_process(_flush(code))
    return code


def _end_process(code: int) -> None:
    """End the command without unwinding the interpreter: freeing a tick's modules and objects
    costs ~50 ms (a fifth of an idle tick), and an interrupted job may still run Python code in a
    worker thread, which ends with us. Exit functions and logging's last flush still run."""
    import atexit
    import logging

    logging.shutdown()
    atexit._run_exitfuncs()
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(code)


def _flush(code: int) -> int:
    """Flush stdout; a reader that went away (``| head``) ends us quietly, as it would ``cat``."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        return 141
    return code


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush does not fail again."""
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


def _main(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    debug = "--debug" in argv
    try:
        args, overrides = parse(argv)
        if args.version:
            out.write(f"{__version__}\n")
            return 0
        from crontabber.cli import commands

        handler: Callable[..., int] = commands.HANDLERS[args.command]
        return handler(args, overrides, out, err)
    except BrokenPipeError:  # stdout's reader went away (``| head``): stop quietly, as Unix tools do
        _quiet_stdout()
        return 141
    except Interrupted as stop:
        if _is_nagios(argv):
            from crontabber.cli.nagios import unknown

            code, line = unknown(stop.summary())
            out.write(line + "\n")
            return code
        err.write(f"crontabber: {redact(stop.summary())}\n")
        return stop.exit_code
    except CrontabberError as exc:
        if _is_nagios(argv):  # a Nagios check reports its own errors as UNKNOWN
            from crontabber.cli.nagios import unknown

            code, line = unknown(str(exc))
            out.write(line + "\n")
            return code
        if debug:
            import traceback

            err.write(redact(traceback.format_exc()))
        err.write(f"crontabber: error: {redact(str(exc))}\n")
        return exc.exit_code if isinstance(exc, (ConfigError, LedgerError)) else 1
    except KeyboardInterrupt:
        err.write("crontabber: interrupted\n")
        return 130


def _is_nagios(argv: Sequence[str]) -> bool:
    argv = _log_runs_flag(list(argv))
    return "nagios" in argv or "--nagios" in argv or "-n" in argv
