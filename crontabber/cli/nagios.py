"""``crontabber nagios``: a Nagios plugin over the ledger (one line, exit 0/1/2/3).

Failures: CRITICAL once a job has failed ``nagios_critical_after`` times in a row;
without that setting, 0.18.1's rule (a backfill job's first failure is a WARNING,
every other failure CRITICAL). Overdue jobs and locks held too long add WARNINGs or
CRITICALs. A dependency that is not configured is a WARNING (the child never runs), and so
is a job interrupted three times in a row (once is routine: it reruns at the next tick).
The text never contains ``|``: Nagios reads what follows it as perfdata.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from crontabber.config.settings import Settings
from crontabber.errortext import one_line
from crontabber.jobs import JobDefinition, missing_dependencies
from crontabber.state import JobState, RunnerBeat
from crontabber.timefmt import duration

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
INTERRUPTED_IN_A_ROW = 3  # an interrupted run is due again at once; this many in a row is a WARNING
_NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}


@dataclass(frozen=True)
class Finding:
    level: int
    text: str


def failure_level(job: JobDefinition, state: JobState) -> int:
    """WARNING or CRITICAL for a job with ``error_count`` > 0 (OK when it has none)."""
    if not state.error_count:
        return OK
    threshold = job.settings.nagios_critical_after
    if threshold is not None:
        return CRITICAL if state.error_count >= threshold else WARNING
    if job.is_backfill and state.error_count == 1:
        return WARNING
    return CRITICAL


def findings(settings: Settings, states: Mapping[str, JobState], now: dt.datetime,
             interrupted: Collection[str] = ()) -> list[Finding]:
    """Everything wrong, one finding per job and problem, worst problems first."""
    found = [Finding(WARNING, f"{child} depends on {parent}, which is not configured, so it never runs")
             for child, parent in missing_dependencies(settings.jobs)]
    max_age = settings.max_ongoing_age_hours * 3600
    for job in settings.jobs:
        if job.app_name in interrupted:
            found.append(Finding(WARNING, f"{job.app_name} was interrupted {INTERRUPTED_IN_A_ROW} times "
                                          "in a row (stopped, or its runner died)"))
        state = states.get(job.app_name)
        if state is None:
            continue
        level = failure_level(job, state)
        if level:
            error = state.last_error or {}
            found.append(Finding(level, f"{job.app_name} ({job.target}) failed {state.error_count} "
                                        f"time(s): {one_line(error.get('type', ''), error.get('value', ''))}"))
        late = _overdue(job, state, now)
        if late:
            found.append(late)
        if state.ongoing and (now - state.ongoing).total_seconds() > max_age:
            found.append(Finding(WARNING, f"{job.app_name} has been running for "
                                          f"{duration((now - state.ongoing).total_seconds())} "
                                          f"(over max_ongoing_age_hours={settings.max_ongoing_age_hours:g})"))
    return sorted(found, key=lambda finding: -finding.level)


def _overdue(job: JobDefinition, state: JobState, now: dt.datetime) -> Finding | None:
    if state.next_run is None or state.ongoing:
        return None
    late = (now - state.next_run).total_seconds()
    for level, margin in ((CRITICAL, job.settings.overdue_critical), (WARNING, job.settings.overdue_warning)):
        if margin is not None and late > margin:
            return Finding(level, f"{job.app_name} is overdue by {duration(late)} "
                                  f"(next run was {state.next_run:%Y-%m-%d %H:%M} UTC)")
    return None


def silent_runners(settings: Settings, runners: Sequence[RunnerBeat], now: dt.datetime) -> list[Finding]:
    """A WARNING per silent runner host; CRITICAL when every host is silent (nothing runs)."""
    from crontabber.heartbeat import judge

    health = judge(runners, now, settings.runner_silent_after)
    silent = [one for one in health if one.silent]
    level = CRITICAL if silent and len(silent) == len(health) else WARNING
    return [Finding(level, f"runner {one.beat.host} silent for {duration(one.quiet_for)} (last tick "
                           f"{one.beat.last_tick:%Y-%m-%d %H:%M} UTC, silent after "
                           f"{duration(one.silent_after)}): is cron still calling crontabber there? "
                           f"(retired: crontabber forget-host {one.beat.host})")
            for one in silent]


def report(settings: Settings, states: Mapping[str, JobState], now: dt.datetime,
           runners: Sequence[RunnerBeat] = (), interrupted: Collection[str] = ()) -> tuple[int, str]:
    """(exit code, the one output line) for the current ledger and runner heartbeats;
    ``interrupted``: the jobs whose last ``INTERRUPTED_IN_A_ROW`` runs were all interrupted."""
    found = sorted(findings(settings, states, now, interrupted) + silent_runners(settings, runners, now),
                   key=lambda finding: -finding.level)
    status = max((finding.level for finding in found), default=OK)
    failing = sum(1 for job in settings.jobs
                  if (s := states.get(job.app_name)) is not None and s.error_count)
    running = sum(1 for s in states.values() if s.ongoing)
    overdue = sum(1 for finding in found if " is overdue " in finding.text)
    perfdata = f"jobs={len(settings.jobs)} failing={failing} overdue={overdue} running={running}"
    text = "; ".join(finding.text for finding in found) if found else \
        f"All systems nominal ({len(settings.jobs)} jobs)"
    return status, f"{_NAMES[status]} - {clean(text)} | {perfdata}"


def unknown(message: str) -> tuple[int, str]:
    """The UNKNOWN line for an error of the check itself (config or ledger)."""
    return UNKNOWN, f"UNKNOWN - {clean(message)}"


def clean(text: str) -> str:
    """One line with no ``|`` (which would start perfdata) and no password."""
    from crontabber.redaction import redact

    return " ".join(redact(text).replace("|", "/").split())
