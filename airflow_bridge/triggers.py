"""``LedgerTrigger``: the deferrable half of the ledger sensors, polling the ledger in the triggerer.

A deferred sensor holds no worker slot while it waits. The trigger asks the same
questions as the sensor's poke (``runtime.gate_verdict`` / ``runtime.parent_verdict``),
in a thread so the triggerer's event loop never blocks on the database, and wakes
the task once the answer is not "wait" (or at its deadline). The triggerer must be
able to import crontabber, the job modules and reach the ledger, like the workers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

UTC = dt.timezone.utc


class LedgerTrigger(BaseTrigger):
    """Poll the ledger every ``poke_interval`` (sooner when the answer names a time) until the
    verdict is "run" or "skip", or ``deadline`` passes ("timeout"); "near" once a named time is
    ``lead`` seconds away, so the resumed task (which takes seconds to start) waits the rest."""

    def __init__(self, check: str, app_name: str, path: str, poke_interval: float, deadline: str,
                 parent: str | None = None, run: dict[str, Any] | None = None, lead: float = 0.0,
                 not_before: str | None = None) -> None:
        super().__init__()
        self.check = check  # "due" (the run's first step) or "parent"
        self.app_name = app_name
        self.path = path
        self.poke_interval = float(poke_interval)
        self.deadline = deadline
        self.parent = parent
        self.run_data = run
        self.lead = float(lead)  # hand back this long before a named time: the task waits the rest itself
        self.not_before = not_before  # no answer before then (the deferring process must have exited)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("airflow_bridge.triggers.LedgerTrigger", {
            "check": self.check, "app_name": self.app_name, "path": self.path,
            "poke_interval": self.poke_interval, "deadline": self.deadline, "parent": self.parent,
            "run": self.run_data, "lead": self.lead, "not_before": self.not_before})

    def verdict(self) -> Any:
        """One look at the ledger (blocking; run in a thread)."""
        from airflow_bridge import runtime

        if self.check == "due":
            return runtime.gate_verdict(self.app_name, self.path, runtime.run_from_dict(self.run_data or {}))
        force = bool((self.run_data or {}).get("force"))
        return runtime.parent_verdict(self.app_name, self.parent or "", self.path, force)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_bridge.handover import WAIT

        deadline = dt.datetime.fromisoformat(self.deadline)
        if self.not_before:
            await asyncio.sleep(max((dt.datetime.fromisoformat(self.not_before) - dt.datetime.now(UTC))
                                    .total_seconds(), 0.0))
        last = None
        while True:
            try:
                verdict = await asyncio.to_thread(self.verdict)
            except Exception as exc:  # the task reports it: one line, then Airflow's retries
                yield TriggerEvent({"status": "error", "message": f"{type(exc).__name__}: {exc}"})
                return
            if verdict.action != WAIT:
                yield TriggerEvent({"status": verdict.action, "message": verdict.message})
                return
            if verdict.message != last:
                self.log.info("%s", verdict.message)
                last = verdict.message
            now = dt.datetime.now(UTC)
            if verdict.until is not None and (verdict.until - now).total_seconds() <= self.lead:
                yield TriggerEvent({"status": "near", "message": verdict.message})
                return
            if now >= deadline:
                yield TriggerEvent({"status": "timeout", "message": verdict.message})
                return
            delay = min(self.poke_interval, (deadline - now).total_seconds())
            if verdict.until is not None:
                delay = min(delay, (verdict.until - now).total_seconds() - self.lead)
            await asyncio.sleep(max(delay, 0.05))
