"""``crontabber metrics``: the jobs and runner heartbeats in Prometheus' text format.

Written for the node exporter's textfile collector (``--textfile DIR`` writes
``DIR/crontabber.prom`` atomically). Every series a dashboard may expect exists from
the start: a job that never succeeded reports a last success of 0 (the epoch), so an
"older than a day" alert fires for it too.
"""

from __future__ import annotations

from collections.abc import Iterable

from crontabber.views.snapshot import Snapshot

FILE_NAME = "crontabber.prom"
PREFIX = "crontabber_"

# name, type, help
JOB_METRICS = (
    ("job_last_success_timestamp_seconds", "gauge", "Unix time of the job's last success (0: never)."),
    ("job_last_duration_seconds", "gauge", "How long the job's last recorded run took."),
    ("job_consecutive_errors", "gauge", "Failures in a row since the job's last success."),
    ("job_overdue_seconds", "gauge", "Seconds the job is past its next run (0: on time, running or on Airflow)."),
    ("job_running", "gauge", "1 while the job runs (its ledger row says ongoing), else 0."),
    ("job_on_airflow", "gauge", "1 once the job runs on Airflow (on_airflow_since has passed), else 0."),
)
RUNNER_METRICS = (
    ("runner_last_tick_timestamp_seconds", "gauge", "Unix time the host's last tick started."),
    ("runner_last_tick_duration_seconds", "gauge", "How long the host's last tick took."),
    ("runner_silent_after_seconds", "gauge", "Quiet after which the host counts as silent."),
    ("runner_silent", "gauge", "1 when the host has not ticked for longer than its silent_after, else 0."),
)


def label(value: str) -> str:
    """A label value in the text format: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if value != int(value) else str(int(value))


def render(snapshot: Snapshot) -> str:
    """The whole metrics file."""
    now = snapshot.now
    per_job = {name: [] for name, _, _ in JOB_METRICS}
    for view in snapshot.jobs:
        labels = f'job="{label(view.name)}"'
        last = view.last_success
        per_job["job_last_success_timestamp_seconds"].append((labels, last.timestamp() if last else 0))
        if view.last_duration is not None:
            per_job["job_last_duration_seconds"].append((labels, view.last_duration))
        per_job["job_consecutive_errors"].append((labels, view.error_count))
        per_job["job_overdue_seconds"].append((labels, round(view.overdue(now), 3)))
        per_job["job_running"].append((labels, 1 if view.status == "running" else 0))
        per_job["job_on_airflow"].append((labels, 1 if view.status == "on Airflow" else 0))
    per_host = {name: [] for name, _, _ in RUNNER_METRICS}
    for health in snapshot.runners:
        labels = f'host="{label(health.beat.host)}"'
        per_host["runner_last_tick_timestamp_seconds"].append((labels, health.beat.last_tick.timestamp()))
        per_host["runner_last_tick_duration_seconds"].append((labels, round(health.beat.last_duration, 6)))
        per_host["runner_silent_after_seconds"].append((labels, health.silent_after))
        per_host["runner_silent"].append((labels, 1 if health.silent else 0))
    lines = list(_family(JOB_METRICS, per_job)) + list(_family(RUNNER_METRICS, per_host))
    return "\n".join(lines) + "\n"


def _family(metrics: tuple, samples: dict[str, list[tuple[str, float]]]) -> Iterable[str]:
    for name, kind, text in metrics:
        yield f"# HELP {PREFIX}{name} {text}"
        yield f"# TYPE {PREFIX}{name} {kind}"
        for labels, value in samples[name]:
            yield f"{PREFIX}{name}{{{labels}}} {_number(value)}"
