"""A second class called FooJob, to prove two configured classes with one name are refused."""

from crontabber.base import BaseCronApp


class FooJob(BaseCronApp):
    app_name = "other-foo"

    def run(self):
        pass
