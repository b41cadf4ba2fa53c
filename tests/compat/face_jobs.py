"""Job classes for the face tests: config.logger, and decorators meeting a class's own main/__init__."""

import datetime as dt

from crontabber.base import BaseCronApp
from crontabber.mixins import as_backfill_cron_app, using_postgres, with_single_postgres_transaction

SEEN: list = []


class LoggingJob(BaseCronApp):
    app_name = "logging-job"

    def run(self):
        self.config.logger.info("logging-job says hello")
        SEEN.append(self.config.logger)


@as_backfill_cron_app
class OwnMainBackfillJob(BaseCronApp):
    """0.18.1's decorator replaces this class's own main: run(date) is what runs."""

    app_name = "own-main-backfill"

    def main(self, function=None, once=True):
        raise AssertionError("the decorated main runs, not the class's own")

    def run(self, date):
        SEEN.append(("own-main-backfill", date))


class SubclassWithOwnMain(OwnMainBackfillJob):
    """A subclass's own main still wins over the decorated one (plain inheritance)."""

    app_name = "subclass-own-main"

    def main(self, function=None, once=True):
        SEEN.append(("subclass-own-main", "own main"))
        yield self.crontabber_now


@using_postgres()
@with_single_postgres_transaction()
class InitUsesResourcesJob(BaseCronApp):
    """Its __init__ reads the resources the decorator adds (they exist first, as in 0.18.1)."""

    app_name = "init-uses-resources"

    def __init__(self, config, job_information):
        super().__init__(config, job_information)
        self.executor_at_init = self.database_transaction_executor

    def run(self, connection):
        cursor = connection.cursor()
        cursor.execute("SELECT %s::date", (dt.date(2026, 1, 5),))
        SEEN.append(("init-uses-resources", cursor.fetchone()[0], type(self.executor_at_init).__name__))
