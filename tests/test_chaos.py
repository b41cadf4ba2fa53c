"""Chaos: runners killed at random instants while they run 40 mixed jobs, on both stores, plus
PostgreSQL restarts (issue 10). Bounded in time; its seed is printed and can be replayed:

    CRONTABBER_CHAOS_SEED=123 CRONTABBER_CHAOS_SECONDS=25 python -m pytest -s tests/test_chaos.py

Three runner processes at a time (some with ``--max-workers 4``) tick over 12 shell jobs, 10
Python jobs, 8 Python jobs with a timeout (forked, with a grandchild), 4 backfill jobs and 6
dependent jobs, while the test sends SIGKILL or SIGTERM to a random runner every second or
so, makes every job due again every two seconds and, on PostgreSQL, restarts the private
server three times. Then one last tick runs undisturbed. Asserted:

- no job ever runs twice at once (each job holds a witness lock while it runs);
- no job process outlives its runner by 5 s (found through /proc; shell and forked jobs leave a
  ``sleep 30`` grandchild behind them, which only their runner, or its watcher, ends);
- no backfill date is recorded twice, nor started again once recorded;
- no job is left "running" after the last tick;
- every run that was cut short is recorded as interrupted or run again;
- every runner ends as it should: 0, 143 for SIGTERM, killed by SIGKILL, 3 when PostgreSQL
  went away; never a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from crontabber.outcomes import Outcome
from crontabber.state import JobState, open_ledger
from tests import chaos_jobs
from tests.proc_support import REPO, TAG, kill_tagged, tagged
from tests.runner_jobs import read_calls

SECONDS = float(os.environ.get("CRONTABBER_CHAOS_SECONDS", "20"))
SEED = int(os.environ.get("CRONTABBER_CHAOS_SEED") or random.SystemRandom().randrange(2**31))
RUNNERS = 3
RESTARTS = 3
KILLS = 20  # at least, half of them SIGKILL and half SIGTERM (within one)
SHELL = 12
UTC = dt.timezone.utc
HOUR = dt.timedelta(hours=1)


def jobs_ini(folder: Path, url: str) -> Path:
    entries = [f"tests.chaos_jobs.{name}|1h" for name in
               [f"Py{n:02d}" for n in range(chaos_jobs.PYTHON)] + [f"Fk{n:02d}" for n in range(chaos_jobs.FORKED)]
               + list(chaos_jobs.DEPENDENTS)]
    entries += [f"tests.chaos_jobs.Bf{n}|1h" for n in range(chaos_jobs.BACKFILL)]
    entries += [f"job:sh-{n:02d}|1h" for n in range(SHELL)]
    sections = [f"[[class-Fk{n:02d}]]\ntimeout = 60" for n in range(chaos_jobs.FORKED)]
    for n in range(SHELL):
        name = f"sh-{n:02d}"
        pause = chaos_jobs.duration(name, 0.2, 0.9)
        event = f"printf '[\"%s\", \"{name}\", \"\", %s, 0]\\n' {{}} $$ >> \"$CRONTABBER_TEST_CALLS\""
        body = (f"exec 9>>\"$CHAOS_WITNESS/{name}\"; flock -n 9 || {event.format('overlap')}; "
                f"{event.format('start')}; sleep 30 & sleep {pause:.2f}; {event.format('done')}")
        sections.append(f"[[job-{name}]]\nshell = true\ncommand = '''{body}'''")
    ini = folder / "crontabber.ini"
    listed = "\n".join(f"    {entry}" for entry in entries)
    ini.write_text(f"[crontabber]\ndatabase_url = {url}\njobs = '''\n{listed}\n'''\n" + "\n".join(sections) + "\n")
    return ini


class Runner:
    """One runner process: its tag, how it ended, and when its job processes were gone."""

    def __init__(self, ini: Path, folder: Path, number: int, args: list[str], env: dict[str, str]) -> None:
        self.tag = f"chaos-{uuid.uuid4().hex}"
        self.number, self.args = number, args
        self.err_path = folder / f"runner-{number}.err"
        with open(self.err_path, "w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "crontabber", f"--admin.conf={ini}", *args], cwd=str(REPO),
                env={**env, TAG: self.tag}, stdout=subprocess.DEVNULL, stderr=err)
        self.signal: int | None = None
        self.signalled = self.died = self.clean = None
        self.leftover: dict[int, str] | None = None

    def kill(self, signum: int) -> None:
        if self.process.poll() is None:
            self.signal, self.signalled = signum, time.monotonic()
            self.process.send_signal(signum)
            if signum == signal.SIGKILL:
                self.died = self.signalled

    def watch(self) -> bool:
        """Note when it ended and when its last job process was gone; True once both happened."""
        now = time.monotonic()
        if self.died is None and self.process.poll() is not None:
            self.died = now
        if self.died is not None and self.clean is None:
            left = tagged([self.tag], exclude=[self.process.pid])
            if not left:
                self.clean = now
            elif now - self.died > 5 and self.leftover is None:
                self.leftover = left  # for the report: what outlived its runner
        return self.clean is not None and self.process.poll() is not None

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")


class Chaos:
    def __init__(self, folder: Path, url: str, cluster, seed: int) -> None:
        self.folder, self.url, self.cluster = folder, url, cluster
        self.rng = random.Random(seed)
        self.ini = jobs_ini(folder, url)
        (folder / "witness").mkdir()
        self.calls = folder / "calls.jsonl"
        self.env = {**os.environ, "PYTHONPATH": str(REPO), "CRONTABBER_TEST_CALLS": str(self.calls),
                    "CHAOS_WITNESS": str(folder / "witness")}
        self.runners: list[Runner] = []
        self.restarts = 0
        self.rewinds = 0

    def seed_backfill(self) -> dt.datetime:
        start = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 20 * HOUR
        ledger = open_ledger(self.url)
        for n in range(chaos_jobs.BACKFILL):
            ledger.save(JobState(f"bf-{n}", next_run=start + HOUR, first_run=start, last_run=start,
                                 last_success=start))
        ledger.close()
        return start

    def start_runner(self) -> None:
        args = self.rng.choice([[], [], ["--max-workers", "4"]])
        self.runners.append(Runner(self.ini, self.folder, len(self.runners), args, self.env))

    def rewind(self) -> None:
        """Make every job that is not running due again (backfill jobs follow their dates)."""
        now = dt.datetime.now(UTC)
        try:
            if self.url.startswith("sqlite"):
                import sqlite3

                conn = sqlite3.connect(self.url[len("sqlite:///"):], timeout=30)
                past = (now - dt.timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
                with conn:
                    conn.execute("UPDATE crontabber SET next_run = ? WHERE ongoing IS NULL AND "
                                 "app_name NOT LIKE 'bf-%' AND next_run > ?", (past, past))
                conn.close()
            else:
                from tests.pg_support import execute

                execute(self.url, "UPDATE crontabber SET next_run = now() - interval '1 second' WHERE "
                                  "ongoing IS NULL AND app_name NOT LIKE 'bf-%%' AND next_run > now()")
            self.rewinds += 1
        except Exception:  # PostgreSQL restarting: next time
            pass

    def restart_server(self) -> None:
        self.cluster.restart()
        self.restarts += 1

    def pick_signal(self) -> int:
        sent = Counter(runner.signal for runner in self.runners if runner.signal is not None)
        if abs(sent[signal.SIGKILL] - sent[signal.SIGTERM]) >= 2:  # keep the two kinds even
            return signal.SIGKILL if sent[signal.SIGKILL] < sent[signal.SIGTERM] else signal.SIGTERM
        return self.rng.choice([signal.SIGKILL, signal.SIGTERM])

    def kills(self) -> int:
        return sum(1 for runner in self.runners if runner.signal is not None)

    def run(self) -> None:
        live: list[Runner] = []
        begin = time.monotonic()
        end, bound = begin + SECONDS, begin + 2 * SECONDS
        next_kill = begin + self.rng.uniform(0.5, 1.0)
        next_rewind = begin + 2
        restarts = [begin + SECONDS * (fraction + self.rng.uniform(-0.08, 0.08))
                    for fraction in (0.2, 0.45, 0.7)][:RESTARTS] if self.cluster is not None else []
        restarting: threading.Thread | None = None
        pending: list[Runner] = []
        while time.monotonic() < bound and (time.monotonic() < end or self.kills() < KILLS or restarts):
            live = [runner for runner in live if runner.process.poll() is None]
            while len(live) < RUNNERS:
                self.start_runner()
                live.append(self.runners[-1])
                pending.append(self.runners[-1])
            now = time.monotonic()
            if now >= next_kill:
                self.rng.choice(live).kill(self.pick_signal())
                next_kill = now + self.rng.uniform(0.5, 1.0)
            if restarts and now >= restarts[0] and (restarting is None or not restarting.is_alive()):
                restarts.pop(0)
                restarting = threading.Thread(target=self.restart_server)
                restarting.start()
            if now >= next_rewind:
                self.rewind()
                next_rewind = now + 2
            pending = [runner for runner in pending if not runner.watch()]
            time.sleep(0.02)
        if restarting is not None:
            restarting.join(timeout=120)
        deadline = time.monotonic() + 90  # the survivors finish their ticks undisturbed
        while pending and time.monotonic() < deadline:
            pending = [runner for runner in pending if not runner.watch()]
            time.sleep(0.02)
        assert not pending, [runner.stderr for runner in pending]

    def final_tick(self) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "crontabber", f"--admin.conf={self.ini}"], cwd=str(REPO),
                              env=self.env, capture_output=True, text=True, timeout=180)


def check(chaos: Chaos, seeded: dt.datetime, label: str) -> dict:
    calls = read_calls(chaos.calls)
    ledger = open_ledger(chaos.url)
    try:
        rows = ledger.load_all()
        logs = {name: ledger.logs(name, limit=100000) for name in rows}
    finally:
        ledger.close()
    runners = chaos.runners
    kills = Counter(signal.Signals(r.signal).name for r in runners if r.signal is not None)
    figures = {
        "store": label, "seed": SEED, "seconds": SECONDS, "runners": len(runners),
        "SIGKILL": kills["SIGKILL"], "SIGTERM": kills["SIGTERM"], "restarts": chaos.restarts,
        "job starts": sum(1 for c in calls if c[0] == "start"),
        "interrupted (recorded)": sum(1 for entries in logs.values() for e in entries
                                      if e.outcome is Outcome.INTERRUPTED),
        "overlaps": sum(1 for c in calls if c[0] == "overlap"),
        "slowest clean-up after a runner died (s)": round(max(r.clean - r.died for r in runners), 2),
    }
    print(f"chaos figures: {json.dumps(figures)}")
    where = f"(replay: CRONTABBER_CHAOS_SEED={SEED} CRONTABBER_CHAOS_SECONDS={SECONDS:g})"

    # every runner ended as it should, in one line at most, never with a traceback
    allowed = {0, 143, -signal.SIGKILL, -signal.SIGTERM} | ({3} if chaos.cluster is not None else set())
    for runner in runners:
        assert runner.process.returncode in allowed, (runner.process.returncode, runner.stderr, where)
        assert "Traceback" not in runner.stderr, (runner.stderr, where)
    assert kills["SIGKILL"] + kills["SIGTERM"] >= KILLS and min(kills["SIGKILL"], kills["SIGTERM"]) >= KILLS // 2 - 1, \
        (kills, where)
    assert chaos.cluster is None or chaos.restarts == RESTARTS, where
    # no job ran twice at once; no job process outlived its runner by 5 s
    assert figures["overlaps"] == 0, ([c for c in calls if c[0] == "overlap"], where)
    late = [(r.number, r.args, r.signal, r.process.returncode, r.leftover, r.stderr[-2000:])
            for r in runners if r.clean - r.died > 5]
    assert late == [], (late, where)
    # no job left "running" after the last tick
    assert [name for name, row in rows.items() if row.ongoing is not None] == [], where
    # backfill: each date recorded once, never started again once recorded, and all caught up
    for n in range(chaos_jobs.BACKFILL):
        app = f"bf-{n}"
        done = [e for e in logs[app] if e.outcome is Outcome.SUCCEEDED]
        dates = Counter(e.success for e in done)
        assert max(dates.values()) == 1, ([d for d, k in dates.items() if k > 1], where)
        recorded_at = {e.success.isoformat(): e.log_time.timestamp() for e in done}
        late = [c for c in calls if c[0] == "start" and c[1] == app and c[2] in recorded_at
                and c[4] > recorded_at[c[2]]]
        assert late == [], (late, where)
        expected = sorted(seeded + k * HOUR for k in range(1, len(dates) + 1))
        assert sorted(dates) == expected and expected[-1] > dt.datetime.now(UTC) - 2 * HOUR, where
    # every run that was cut short is recorded as interrupted or ran again
    opened: dict[str, list[tuple[int, int]]] = defaultdict(list)  # app|date -> (index, pid) of starts
    starts: dict[str, list[int]] = defaultdict(list)
    for index, (kind, app, detail, pid, _) in enumerate(calls):
        key = f"{app}|{detail}"
        if kind == "start":
            opened[key].append((index, pid))
            starts[key].append(index)
        elif kind == "done":
            match = next((item for item in opened[key] if item[1] == pid), None)
            if match is not None:
                opened[key].remove(match)
    for key, runs in opened.items():
        app = key.split("|")[0]
        recorded = any(e.outcome is Outcome.INTERRUPTED for e in logs.get(app, []))
        for index, _ in runs:
            assert recorded or starts[key][-1] > index, (key, where)
    return figures


@pytest.fixture(params=["sqlite", "postgres"])
def chaos_store(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite'}", None
        return
    from tests.pg_support import PrivateCluster, execute, with_database

    cluster = PrivateCluster()
    try:
        cluster.initdb()
        cluster.start()
        execute(cluster.url, "CREATE DATABASE chaos")
        yield with_database(cluster.url, "chaos"), cluster
    finally:
        cluster.remove()


def test_chaos(tmp_path, chaos_store):
    url, cluster = chaos_store
    print(f"\nchaos seed {SEED} ({SECONDS:g} s; replay with CRONTABBER_CHAOS_SEED={SEED})")
    chaos = Chaos(tmp_path, url, cluster, SEED)
    seeded = chaos.seed_backfill()
    started = time.monotonic()
    try:
        chaos.run()
        final = chaos.final_tick()
        assert final.returncode == 0 and "Traceback" not in final.stderr, final.stderr
        figures = check(chaos, seeded, "postgresql" if cluster is not None else "sqlite")
        print(f"chaos took {time.monotonic() - started:.1f} s; {figures['job starts']} job starts")
    finally:
        for runner in chaos.runners:
            if runner.process.poll() is None:
                runner.process.kill()
                runner.process.wait()
        kill_tagged([runner.tag for runner in chaos.runners])
