"""Job classes the tests configure; each records its calls in a file named by env or class attr."""

import json
import os
import time

from configman import Namespace

from crontabber.base import BaseCronApp
from crontabber.mixins import as_backfill_cron_app

CALLS: list = []


def _record(name, *args):
    CALLS.append((name, *args))
    path = os.environ.get("CRONTABBER_TEST_CALLS")
    if path:
        with open(path, "a") as handle:
            handle.write(json.dumps([name, *[str(a) for a in args]]) + "\n")


class FooJob(BaseCronApp):
    app_name = "foo"
    app_description = "does foo"

    def run(self):
        _record("foo")


class BarJob(BaseCronApp):
    app_name = "bar"
    depends_on = "foo"

    def run(self):
        _record("bar")


class BazJob(BaseCronApp):
    app_name = "baz"
    depends_on = ("bar",)

    def run(self):
        _record("baz")


class BrokenJob(BaseCronApp):
    app_name = "broken"

    def run(self):
        _record("broken")
        raise ValueError("broken on purpose")


class BrokenChildJob(BaseCronApp):
    app_name = "broken-child"
    depends_on = ["broken"]

    def run(self):
        _record("broken-child")


class ConfiguredJob(BaseCronApp):
    app_name = "configured"
    required_config = Namespace()
    required_config.add_option("color", default="blue")
    required_config.add_option("size", default=1, from_string_converter=int)

    def run(self):
        _record("configured", self.config.color, self.config.size)


@as_backfill_cron_app
class BackfillJob(BaseCronApp):
    app_name = "backfill"

    def run(self, date):
        _record("backfill", date.isoformat())


@as_backfill_cron_app
class FlakyBackfillJob(BaseCronApp):
    """Fails on the date in its ``fail_on`` class attribute."""

    app_name = "flaky-backfill"
    fail_on = None

    def run(self, date):
        if FlakyBackfillJob.fail_on and date.date().isoformat() == FlakyBackfillJob.fail_on:
            raise RuntimeError(f"cannot do {date.date()}")
        _record("flaky-backfill", date.isoformat())


class SleepJob(BaseCronApp):
    app_name = "sleeper"
    seconds = 1.0

    def run(self):
        time.sleep(self.seconds)
        _record("sleeper")


class CycleAJob(BaseCronApp):
    app_name = "cycle-a"
    depends_on = "cycle-b"

    def run(self):
        _record("cycle-a")


class CycleBJob(BaseCronApp):
    app_name = "cycle-b"
    depends_on = "cycle-a"

    def run(self):
        _record("cycle-b")


class NoAppNameJob(BaseCronApp):
    def run(self):
        pass
