"""Jobs for the stop tests: each records ``start`` (with its pid) and waits for the release file.

``InProcessWaiter`` runs inside the runner; ``ForkedWaiter`` is given a ``timeout`` in the ini,
so it runs in a forked child, and it starts a grandchild (``sleep``) the runner never sees.
"""

import os
import subprocess

from crontabber.base import BaseCronApp
from tests.runner_jobs import record, wait_for_release


class InProcessWaiter(BaseCronApp):
    app_name = "in-process"

    def run(self):
        record("start", self.app_name, str(os.getpid()))
        wait_for_release(self.app_name, limit=120)
        record("done", self.app_name)


class ForkedWaiter(BaseCronApp):
    app_name = "forked"

    def run(self):
        grandchild = subprocess.Popen(["sleep", "120"])
        record("start", self.app_name, str(os.getpid()))
        try:
            wait_for_release(self.app_name, limit=120)
        finally:
            grandchild.kill()
            grandchild.wait()
        record("done", self.app_name)
