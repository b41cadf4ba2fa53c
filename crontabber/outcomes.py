"""What can happen to a job in a tick: written to the log, shown by ``list`` and Nagios."""

from __future__ import annotations

import enum


class Outcome(str, enum.Enum):
    """The result of one attempt at a job. Runs add a log row; skips do not."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    INTERRUPTED = "interrupted"  # stopped by SIGTERM/SIGINT, or its runner died: due again at once
    NOT_DUE = "not_due"
    SKIPPED_DEPENDENCY = "skipped_dependency"
    SKIPPED_LOCKED = "skipped_locked"
    SKIPPED_ON_AIRFLOW = "skipped_on_airflow"

    @property
    def ran(self) -> bool:
        """True when the job's code ran (the outcome has a log row)."""
        return self in (Outcome.SUCCEEDED, Outcome.FAILED, Outcome.TIMED_OUT, Outcome.INTERRUPTED)

    @property
    def is_failure(self) -> bool:
        return self in (Outcome.FAILED, Outcome.TIMED_OUT)
