"""Jobs of the live Airflow tier: each appends ``name side executor started`` to ``$LIVE_RECORD``.

``side`` is ``airflow`` inside an Airflow task (the task runner sets ``AIRFLOW_CTX_DAG_ID``),
``cron`` under the cron runner; ``executor`` is ``$LIVE_EXECUTOR`` of the process that ran it
(the scheduler's LocalExecutor or the Celery worker).
"""

import datetime as dt
import fcntl
import os

from crontabber.base import BaseCronApp


def record(name: str) -> None:
    side = "airflow" if os.environ.get("AIRFLOW_CTX_DAG_ID") else "cron"
    line = f"{name} {side} {os.environ.get('LIVE_EXECUTOR', '-')} {dt.datetime.now(dt.timezone.utc).isoformat()}\n"
    with open(os.environ["LIVE_RECORD"], "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(line)


class ParentJob(BaseCronApp):
    app_name = "parent"

    def run(self):
        record(self.app_name)


class ChildJob(BaseCronApp):
    app_name = "child"
    depends_on = ("parent",)

    def run(self):
        record(self.app_name)


class HourlyJob(BaseCronApp):
    app_name = "hourly"

    def run(self):
        record(self.app_name)
