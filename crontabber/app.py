"""Face of crontabber 0.18.1's ``crontabber.app``: the CronTabber application, its job-state
database and its exceptions, over this package's runner, ledger and listings.

A launcher that subclasses ``CronTabberBase`` and runs ``main(TheirApp)`` gets 0.18.1's flags
and design §6's exit codes. The runner's clock reads this module's ``utc_now`` at every call
(0.18.1's tests patch it). Differences from 0.18.1 (docs/upgrading-from-0.18.1.md has all):
design §5's FIXes; ``main()`` returns 1 when the ``--job`` failed and 2 for a failed configtest;
``nagios()`` prints ``STATUS - text | perfdata``; ``RowLevelLockError`` and ``OngoingJobError``
are never raised (a running job's lock dies with its process).
"""
from __future__ import annotations

import logging
import sys
from functools import partial
from typing import Any, TextIO

from configman import Namespace, RequiredConfig, class_converter

from crontabber import __version__
from crontabber.base import FrequencyDefinitionError, convert_frequency, reorder_dag  # noqa: F401  (0.18.1 names)
from crontabber.clock import CallClock
from crontabber.config.app_config import add_app_options, class_namespaces, settings_from_app_config
from crontabber.config.class_list import (  # noqa: F401  (0.18.1 names)
    classes_in_namespaces_converter_with_compression,
    get_extra_as_options,
    jobs_converter,
    line_splitter,
    pipe_splitter,
)
from crontabber.config.ledger import from_app_config
from crontabber.datetimeutil import timesince, utc_now  # noqa: F401  (looked up here at call time)
from crontabber.dbapi2_util import (  # noqa: F401  (0.18.1's app imported these)
    SQLDidNotReturnSingleRow,
    SQLDidNotReturnSingleValue,
    execute_no_results,
    execute_query_fetchall,
    execute_query_iter,
    single_row_sql,
    single_value_sql,
)
from crontabber.errors import ConfigError, JobDescriptionError, JobNotFoundError  # noqa: F401
from crontabber.generic_app import App, main
from crontabber.sentry import configured_dsn, failure_reporter, sentrytest
from crontabber.state.mapping import JobStateMapping

try:
    from psycopg2 import IntegrityError, OperationalError  # noqa: F401  (0.18.1's app imported these)
except ImportError:  # without psycopg2, RowLevelLockError is a plain Exception
    IntegrityError = OperationalError = Exception


class TimeDefinitionError(ConfigError):
    """A time of day that is not HH:MM (a configuration error: exit 2)."""


class BrokenJSONError(ValueError):
    pass


class SentryConfigurationError(ConfigError):
    """``--sentrytest`` without ``sentry.dsn`` (a configuration error: exit 2)."""


class RowLevelLockError(OperationalError):
    """0.18.1's "another process holds the job's row"; never raised here (locks die with their holder)."""


class OngoingJobError(Exception):
    """0.18.1's "the job is already running"; never raised here: the job is skipped, the tick goes on."""


def database_transaction(transaction_object_name: str = "transaction_executor") -> Any:
    """Method decorator: run the method in ``self.<transaction_object_name>`` with the connection first."""
    def decorator(method: Any) -> Any:
        def in_transaction(self: Any, *args: Any, **kwargs: Any) -> Any:
            return getattr(self, transaction_object_name)(partial(method, self), *args, **kwargs)
        return in_transaction
    return decorator


def check_time(value: str) -> None:
    """TimeDefinitionError unless ``value`` is ``H:M`` with 0 <= H < 24 and 0 <= M < 60."""
    try:
        hours, minutes = (int(part) for part in value.split(":"))
        if not (0 <= hours < 24 and 0 <= minutes < 60):
            raise ValueError
    except ValueError:
        raise TimeDefinitionError(f"Invalid definition of time {value!r}") from None


def _now() -> Any:
    return utc_now()  # this module's name, so patching crontabber.app.utc_now moves the runner's time


def _executor_option(namespace: Namespace) -> None:
    namespace.add_option("database_class", default="crontabber.connection_factory.ConnectionFactory",
                         from_string_converter=class_converter, reference_value_from="resource.postgresql")
    namespace.add_option("transaction_executor_class",
                         default="crontabber.transaction_executor.TransactionExecutor",
                         doc="a class that will execute transactions", from_string_converter=class_converter,
                         reference_value_from="resource.postgresql")


class JobStateDatabase(RequiredConfig, JobStateMapping):
    """The ledger as 0.18.1's dict of job states, opened from ``database_url`` or ``database_class``."""

    required_config = Namespace()
    _executor_option(required_config)

    def __init__(self, config: Any = None) -> None:
        self.config = config
        ledger = from_app_config(config).open()
        JobStateMapping.__init__(self, ledger)
        self.database_connection_factory = getattr(ledger, "factory", None)
        self.transaction_executor = getattr(ledger, "executor", None)


class CronTabberBase(RequiredConfig):
    """The crontabber application, to combine with an ``App`` class (``CronTabber`` below)."""

    app_name = "crontabber"
    app_version = __version__
    app_description = "Runs cron jobs with dependencies, retries, backfill, locking and a ledger."

    required_config = Namespace()
    required_config.namespace("crontabber")
    required_config.crontabber.add_option("job_state_db_class", default=JobStateDatabase,
                                          doc="Class to load and save the state and runs")
    required_config.crontabber.add_option("jobs", default="", from_string_converter=jobs_converter)
    required_config.crontabber.add_option("error_retry_time", default=300,
                                          doc="number of seconds to re-attempt a job that failed")
    required_config.crontabber.add_option("max_ongoing_age_hours", default=12.0,
                                          doc="Nagios warns about a job running for longer than this")
    _executor_option(required_config.crontabber)
    add_app_options(required_config.crontabber)
    for _name, _short, _doc in (
        ("job", "j", "Run a specific job"), ("list-jobs", "l", "List all jobs"),
        ("force", "f", "Force running a job despite dependencies"),
        ("configtest", None, "Check that all configured jobs are OK"),
        ("sentrytest", None, "Send a sample exception to Sentry"),
        ("audit-ghosts", None, "Checks if there jobs in the database that is not configured."),
        ("reset-job", "r", "Pretend a job has never been run"),
        ("nagios", "n", "Exits with 0, 1 or 2 with a message on stdout if errors have happened."),
        ("version", "v", "Print current version and exit"),
    ):
        required_config.add_option(_name, default="" if _name in ("job", "reset-job") else False, doc=_doc,
                                   short_form=_short, exclude_from_print_conf=True, exclude_from_dump_conf=True)
    del _name, _short, _doc
    required_config.namespace("sentry")
    required_config.sentry.add_option("dsn", doc="DSN for Sentry", default="", reference_value_from="secrets.sentry")

    def __init__(self, config: Any) -> None:
        self.config = config
        after = type(self).__mro__[type(self).__mro__.index(CronTabberBase) + 1:]
        if next(k for k in after if "__init__" in vars(k)) is not object:  # an App class beside us
            super().__init__(config)
        self.database_connection_factory = config.crontabber.database_class(config.crontabber)
        self.transaction_executor = config.crontabber.transaction_executor_class(
            config.crontabber, self.database_connection_factory)
        self.clock = CallClock(_now)

    def main(self) -> int:
        """Do what the flags say (default: run every due job) and return the exit code (design §6)."""
        config = self.config
        if config.get("list-jobs"):
            self.list_jobs()
            return 0
        if config.get("nagios"):
            return self.nagios()
        if config.get("version"):
            self.print_version()
            return 0
        if config.get("reset-job"):
            self.reset_job(config.get("reset-job"))
            return 0
        if config.get("audit-ghosts"):
            self.audit_ghosts()
            return 0
        if config.get("configtest"):
            return 0 if self.configtest() else 2
        if config.get("sentrytest"):
            return 0 if self.sentrytest() else 1
        if config.get("job"):
            return 1 if self.run_one(config["job"], config.get("force")).outcome.is_failure else 0
        self.run_all()
        return 0

    # -- the ledger and the runner ------------------------------------------------------
    @property
    def job_state_database(self) -> Any:
        if not getattr(self, "_job_state_database", None):
            self._job_state_database = self.config.crontabber.job_state_db_class(self.config.crontabber)
        return self._job_state_database

    def _ledger(self) -> Any:
        database = self.job_state_database
        if isinstance(database, JobStateMapping):
            return database.ledger
        if getattr(self, "_own_ledger", None) is None:  # a job_state_db_class of the deployment's own
            self._own_ledger = from_app_config(self.config.crontabber).open()
        return self._own_ledger

    def _settings(self) -> Any:
        return settings_from_app_config(self.config)

    def _logger(self) -> Any:
        """The configuration's ``logger`` (generic_app adds one), else the runner's."""
        return self.config.get("logger") or logging.getLogger("crontabber")

    def _runner(self) -> Any:
        from crontabber.runner import Runner

        reporter = failure_reporter(configured_dsn(self.config))
        return Runner(self._settings(), self._ledger(), self.clock, on_failure=reporter)

    def run_all(self) -> list[Any]:
        """One tick: every due job, in dependency order; the results."""
        return self._runner().tick()

    def run_one(self, description: str, force: bool = False) -> Any:
        """Run the job with this app name or class path if it is due (or ``force``); its result."""
        return self._runner().run_job(description, force=bool(force))

    # -- reports ----------------------------------------------------------------------
    def list_jobs(self, stream: TextIO | None = None) -> None:
        """0.18.1's block listing of every job (the same as ``crontabber --list-jobs``)."""
        from crontabber.cli import blocks

        blocks.render(self._settings(), self._ledger().load_all(), self.clock.now(), stream or sys.stdout)

    def nagios(self, stream: TextIO | None = None) -> int:
        """Write the Nagios line; return its code (0 OK, 1 WARNING, 2 CRITICAL)."""
        from crontabber.cli import nagios

        code, line = nagios.report(self._settings(), self._ledger().load_all(), self.clock.now())
        (stream or sys.stdout).write(line + "\n")
        return code

    def print_version(self, stream: TextIO | None = None) -> None:
        (stream or sys.stdout).write(f"{self.app_version}\n")

    def reset_job(self, description: str) -> None:
        """Forget the job's row, so it runs as if new; JobNotFoundError for an unknown job."""
        job = self._settings().job(description)
        if self._ledger().reset(job.app_name):
            self._logger().info("App reset")
        else:
            self._logger().warning("App already reset")

    def audit_ghosts(self) -> None:
        """Print the app names the ledger has but the configuration does not."""
        ghosts = self._get_ghosts()
        if ghosts:
            print("Found the following in the state database but not available as a configured job:")
        for app_name in sorted(ghosts):
            print(f"\t{app_name}")

    def _get_ghosts(self) -> set[str]:
        configured = {job_class.app_name for _, job_class, _ in class_namespaces(self.config.crontabber)}
        return set(self._ledger().load_all()) - configured

    def configtest(self) -> bool:
        """True when every job and the ledger are configured usably; each fault is logged as critical."""
        from crontabber.cli.configtest import problems

        logger = self._logger()
        try:
            settings = self._settings()
        except ConfigError:
            logger.critical("Failed to config test a job", exc_info=True)
            return False
        faults = problems(settings)
        for fault in faults:
            logger.critical("Failed to config test: %s", fault)
        if not faults:
            logger.info("ledger: %s (%s)", settings.ledger_name, settings.ledger.why)
        return not faults

    def sentrytest(self) -> bool:
        """Send a test event: True when the server answered 2xx within 10 s (no DSN: exit 2)."""
        try:
            ok, line = sentrytest(self.config)
        except ConfigError as exc:
            raise SentryConfigurationError(str(exc)) from None
        (self._logger().info if ok else self._logger().error)(line)
        return ok


class CronTabber(CronTabberBase, App):
    """``CronTabberBase`` with the default application class (``crontabber.generic_app.App``)."""


def local_main() -> None:
    """``python -m crontabber.app``: run ``CronTabber`` with the command line and exit."""
    sys.exit(main(CronTabber))


if __name__ == "__main__":
    local_main()
