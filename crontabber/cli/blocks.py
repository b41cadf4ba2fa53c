"""``crontabber --list-jobs``: crontabber 0.18.1's block listing, which scripts parse.

One block per job: ``=== JOB ===...``, then ``Class:``, ``App name:``, ``Frequency:``,
``Last run:``, ``Last success:``, ``Next run:`` and, after a failure, ``Error!!`` with the
traceback and 0.18.1's ``type: value`` line. Times are naive UTC, as 0.18.1 printed them.
``crontabber list`` keeps the table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TextIO

from crontabber.config.settings import Settings
from crontabber.jobs import JobDefinition
from crontabber.state import JobState
from crontabber.timefmt import timesince

PAD = 15
_UTC = dt.timezone.utc


def render(settings: Settings, states: Mapping[str, JobState], now: dt.datetime, out: TextIO) -> None:
    """Write one block per configured job, in run order."""
    for job in settings.jobs:
        out.write("=== JOB " + "=" * 72 + "\n")
        out.write(_line("Class:", job.target))
        out.write(_line("App name:", job.app_name))
        out.write(_line("Frequency:", frequency(job)))
        state = states.get(job.app_name)
        if state is None:
            out.write("*NO PREVIOUS RUN INFO*\n")
            continue
        if state.ongoing:
            out.write(_line("Ongoing now!", f"Started {timesince(state.ongoing, now)} ago"))
        out.write(_line("Last run:", _past(state.last_run, now) if state.last_run else "none"))
        out.write(_line("Last success:", _past(state.last_success, now) if state.last_success
                        else "no previous successful run"))
        out.write(_line("Next run:", _next(state.next_run, now) if state.next_run else "none"))
        if state.last_error:
            error = state.last_error
            out.write(_line("Error!!", f"({state.error_count} times)"))
            out.write("Traceback (most recent call last):\n")
            trace = str(error.get("traceback") or "")
            out.write(trace if not trace or trace.endswith("\n") else trace + "\n")
            out.write(f"{error.get('type', '')}: {error.get('value', '')}\n")
        out.write("\n")


def frequency(job: JobDefinition) -> str:
    """``7d``, ``1d @ 03:00`` or the cron expression, as the job's ``frequency`` and ``time`` say."""
    config = job.config
    return f"{config['frequency']} @ {config['time']}" if config.get("time") else str(config["frequency"])


def _line(label: str, value: str) -> str:
    return f"{label.ljust(PAD)} {value}\n"


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(_UTC).strftime("%Y-%m-%d %H:%M:%S").ljust(20)


def _past(when: dt.datetime, now: dt.datetime) -> str:
    return f"{_stamp(when)} ({timesince(when, now)} ago)"


def _next(when: dt.datetime, now: dt.datetime) -> str:
    if now > when:
        return f"{_stamp(when)} (was {timesince(when, now)} ago)"
    return f"{_stamp(when)} (in {timesince(now, when)})"
