"""``CrontabberJobOperator``: the task of a bridge-mode DAG (runs the job through crontabber)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator


class CrontabberJobOperator(BaseOperator):
    """Run one crontabber job with crontabber's runner: its lock, its ledger rows, its failure.

    Under the lock it asks the ledger once more (``handover.already_done``): a run whose
    interval or backfill date the ledger already has succeeds without running the job and
    says so in the task log; ``params.force`` runs it anyway.
    """

    template_fields = ()  # app names are data, never Jinja
    ui_color = "#e8f4ea"

    def __init__(self, *, app_name: str, config_variable: str = "crontabber_config", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app_name = app_name
        self.config_variable = config_variable

    def execute(self, context: Any) -> str:
        """Run the job once (a backfill job for the run's date)."""
        from airflow.sdk.exceptions import AirflowSkipException

        from airflow_bridge.runtime import NotThisRun, run_bridge_job

        try:
            return run_bridge_job(self.app_name, self.config_variable, context)
        except NotThisRun as exc:
            raise AirflowSkipException(str(exc)) from None
