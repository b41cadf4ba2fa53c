"""Example jobs: a hello job, its dependant, a failing job, a backfill job and two timed jobs.

They write to the log only, so the examples can run anywhere. Each is written the
way a crontabber 0.18.1 job is written, to show that such jobs run unchanged.
"""

import logging

from configman import Namespace

from crontabber.base import BaseCronApp
from crontabber.mixins import as_backfill_cron_app

log = logging.getLogger("crontabber.examples")


class HelloJob(BaseCronApp):
    app_name = "hello"
    app_description = "Says hello; the job every other example depends on."
    required_config = Namespace()
    required_config.add_option("greeting", default="hello, world", doc="what to say")

    def run(self):
        log.info("%s", self.config.greeting)


class AfterHelloJob(BaseCronApp):
    app_name = "after-hello"
    app_description = "Runs only once 'hello' has succeeded and is not overdue."
    depends_on = ("hello",)

    def run(self):
        log.info("hello ran, so I run too")


class FailingJob(BaseCronApp):
    app_name = "always-fails"
    app_description = "Fails on purpose, to show retries, the ledger's last_error and Nagios."

    def run(self):
        raise RuntimeError("this example job always fails")


@as_backfill_cron_app
class DailyReportJob(BaseCronApp):
    app_name = "daily-report"
    app_description = "A backfill job: run(date) once for every day missed since its last success."

    def run(self, date):
        log.info("building the report for %s", date.date())


class NightlyCleanupJob(BaseCronApp):
    app_name = "nightly-cleanup"
    app_description = "A time-of-day job: once a day at 03:00 in crontabber.timezone."

    def run(self):
        log.info("cleaning up")


class WeekdayDigestJob(BaseCronApp):
    app_name = "weekday-digest"
    app_description = "A cron-expression job: 08:30 on weekdays."

    def run(self):
        log.info("sending the digest")
