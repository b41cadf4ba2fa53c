"""``CrontabberJobOperator``: the task of a bridge-mode DAG (runs the job through crontabber)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator


class CrontabberJobOperator(BaseOperator):
    """Run one crontabber job with crontabber's runner: its lock, its ledger rows, its failure."""

    template_fields = ()  # app names are data, never Jinja
    ui_color = "#e8f4ea"

    def __init__(self, *, app_name: str, config_variable: str = "crontabber_config", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app_name = app_name
        self.config_variable = config_variable

    def execute(self, context: Any) -> str:
        """Run the job once (a backfill job for the run's logical date)."""
        from airflow_bridge.runtime import run_bridge_job

        return run_bridge_job(self.app_name, self.config_variable, context)
