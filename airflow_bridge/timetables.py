"""``CrontabberTimetable``: an Airflow timetable that runs a job exactly when crontabber would.

Used for schedules ``CronTriggerTimetable`` cannot express: cron expressions or
times of day that a DST change skips or repeats (Airflow 3.3 fires those an hour
off, design §4), and frequencies of several days or weeks pinned to a time of day.
Runs are "trigger" runs: the data interval is the single instant of the run, which
is also its logical date. Registered with Airflow by ``airflow_bridge.plugin``
(the ``airflow.plugins`` entry point); the scheduler must have crontabber installed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable

from airflow_bridge.instants import Instants

UTC = dt.timezone.utc


class CrontabberTimetable(Timetable):
    """Run at the instants of a crontabber schedule (``|1d|02:30``, ``30 2 * * *``, ``|2d|03:00``)."""

    def __init__(self, schedule: str, timezone: str = "UTC", anchor: str | None = None) -> None:
        self.schedule = schedule
        self.timezone = timezone
        self.anchor = anchor
        self._instants: Instants | None = None

    @property
    def instants(self) -> Instants:
        """The schedule's instant arithmetic (built on first use, so parsing a DAG stays cheap)."""
        if self._instants is None:
            anchor = dt.datetime.fromisoformat(self.anchor) if self.anchor else None
            self._instants = Instants(self.schedule, self.timezone, anchor)
        return self._instants

    @property
    def summary(self) -> str:
        return self.schedule

    @property
    def description(self) -> str:  # type: ignore[override]
        return f"crontabber schedule {self.schedule} in {self.timezone}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CrontabberTimetable) and self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash((self.schedule, self.timezone, self.anchor))

    def __repr__(self) -> str:
        return f"CrontabberTimetable({self.schedule!r}, {self.timezone!r}, anchor={self.anchor!r})"

    def serialize(self) -> dict[str, Any]:
        return {"schedule": self.schedule, "timezone": self.timezone, "anchor": self.anchor}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        return cls(data["schedule"], data.get("timezone", "UTC"), data.get("anchor"))

    def validate(self) -> None:
        from airflow.exceptions import AirflowTimetableInvalid

        try:
            self.instants.first_after(dt.datetime(2001, 1, 1, tzinfo=UTC))
        except Exception as exc:
            raise AirflowTimetableInvalid(f"crontabber schedule {self.schedule!r}: {exc}") from exc

    def infer_manual_data_interval(self, *, run_after: Any) -> DataInterval:
        return DataInterval.exact(run_after)

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        """The next instant after the last run (or from ``start_date``); without catchup, at
        most one missed instant runs, the latest, as a cron runner that was down would."""
        instants = self.instants
        now = dt.datetime.now(UTC)
        if last_automated_data_interval is not None:
            when = instants.first_after(last_automated_data_interval.end)
        elif restriction.earliest is not None:
            when = instants.first_at_or_after(restriction.earliest)
        else:
            when = instants.first_after(now)
        if not restriction.catchup:
            latest = instants.last_at_or_before(now)
            if latest is not None and latest > when:
                when = latest
        if restriction.latest is not None and when > restriction.latest:
            return None
        return DagRunInfo.exact(_pendulum(when))


def _pendulum(when: dt.datetime) -> Any:
    from airflow._shared.timezones.timezone import coerce_datetime

    return coerce_datetime(when)
