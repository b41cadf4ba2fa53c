"""``LedgerSensor``: waits until a parent allows its child to run, by crontabber's own rule.

It reads the parent's ledger row, so it works whichever side runs the parent (the
cron runner or an Airflow bridge task): the child waits while the parent fails or
is overdue, runs once it succeeds, and is skipped after ``timeout`` (``soft_fail``).
Generated in poke mode (reschedule mode hits apache/airflow#71172).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseSensorOperator


class LedgerSensor(BaseSensorOperator):
    """Succeeds once ``parent``'s ledger row lets ``app_name`` run (``rules.dependency_problem``)."""

    template_fields = ()  # app names are data, never Jinja
    ui_color = "#fdf3d8"

    def __init__(self, *, app_name: str, parent: str, config_variable: str = "crontabber_config",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app_name = app_name
        self.parent = parent
        self.config_variable = config_variable

    def poke(self, context: Any) -> bool:
        """True when the parent has succeeded and is not overdue."""
        from airflow_bridge.runtime import parent_problem

        problem = parent_problem(self.app_name, self.parent, self.config_variable)
        if problem is not None:
            self.log.info("%s waits: %s", self.app_name, problem)
            return False
        return True
