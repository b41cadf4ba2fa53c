"""The ledger as the dict of job states crontabber 0.18.1's ``JobStateDatabase`` was.

Keys are app names; values are dicts of the row's columns, exactly those 0.18.1 returned
(``items()`` and ``values()`` leave out ``ongoing``, as it did). Writing a value replaces
0.18.1's columns and keeps ours (``skip_reason``). Works over either store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from crontabber.state import JobState, Ledger

UTC = dt.timezone.utc
_MISSING = object()


class JobStateMapping:
    """``mapping[app_name]`` -> the job's row as a dict; ``[]=``, ``del``, ``in``, ``keys``..."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    # -- reading ----------------------------------------------------------------------
    def has_data(self) -> bool:
        return bool(self.ledger.load_all())

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.ledger.load_all()))

    def __contains__(self, app_name: object) -> bool:
        return isinstance(app_name, str) and bool(self.ledger.load([app_name]))

    def keys(self) -> list[str]:
        return [name for name, _ in self.items()]

    def items(self) -> list[tuple[str, dict[str, Any]]]:
        """(app name, row without ``ongoing``) pairs, as 0.18.1 listed them."""
        return [(name, _as_dict(state)) for name, state in self.ledger.load_all().items()]

    def values(self) -> list[dict[str, Any]]:
        return [row for _, row in self.items()]

    def __getitem__(self, app_name: str) -> dict[str, Any]:
        state = self.ledger.load([app_name]).get(app_name)
        if state is None:
            raise KeyError(app_name)
        return _as_dict(state, ongoing=True)

    def get(self, app_name: str, default: Any = None) -> Any:
        try:
            return self[app_name]
        except KeyError:
            return default

    def copy(self) -> dict[str, dict[str, Any]]:
        """Every row (with ``ongoing``), keyed by app name: a snapshot to edit and ``update`` back."""
        return {name: _as_dict(state, ongoing=True) for name, state in self.ledger.load_all().items()}

    # -- writing ----------------------------------------------------------------------
    def __setitem__(self, app_name: str, value: Mapping[str, Any]) -> None:
        existing = self.ledger.load([app_name]).get(app_name)
        self.ledger.save(JobState(
            app_name, next_run=_aware(value["next_run"]), first_run=_aware(value["first_run"]),
            last_run=_aware(value["last_run"]), last_success=_aware(value.get("last_success")),
            ongoing=_aware(value.get("ongoing")), error_count=int(value["error_count"] or 0),
            depends_on=_names(value["depends_on"]), last_error=dict(value["last_error"] or {}),
            skip_reason=existing.skip_reason if existing is not None else None))

    def update(self, data: Mapping[str, Mapping[str, Any]]) -> None:
        for app_name in data:
            self[app_name] = data[app_name]

    def __delitem__(self, app_name: str) -> None:
        if not self.ledger.reset(app_name):
            raise KeyError(app_name)

    def pop(self, app_name: str, default: Any = _MISSING) -> Any:
        try:
            row = self[app_name]
        except KeyError:
            if default is _MISSING:
                raise
            return default
        del self[app_name]
        return row

    def close(self) -> None:
        self.ledger.close()


def _as_dict(state: JobState, ongoing: bool = False) -> dict[str, Any]:
    row = {"next_run": state.next_run, "first_run": state.first_run, "last_run": state.last_run,
           "last_success": state.last_success, "depends_on": list(state.depends_on),
           "error_count": state.error_count, "last_error": dict(state.last_error)}
    if ongoing:
        row["ongoing"] = state.ongoing
    return row


def _aware(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _names(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)
