"""The ledger protocol, run against every store: SQLite and the real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
from collections import Counter

import pytest

from crontabber.outcomes import Outcome
from crontabber.state import JobState, LogEntry, open_ledger
from tests.pg_support import wait_for

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 1, 5, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def ledger(store_url):
    opened = open_ledger(store_url)
    yield opened
    opened.close()


def full_state(name="job", **changes) -> JobState:
    state = JobState(name, next_run=T0 + dt.timedelta(hours=1), first_run=T0 - dt.timedelta(days=3),
                     last_run=T0, last_success=T0 - dt.timedelta(days=1), ongoing=None,
                     error_count=2, depends_on=("a", "b"),
                     last_error={"type": "ValueError", "value": "bad", "traceback": "tb"},
                     skip_reason="'a' errored last time it ran")
    return state.but(**changes)


def test_empty_ledger(ledger):
    assert ledger.load_all() == {}
    assert ledger.load(["nope"]) == {}
    assert ledger.load([]) == {}
    assert ledger.logs("nope") == []


def test_state_round_trip_keeps_every_field_and_utc(ledger):
    state = full_state(ongoing=T0)
    ledger.save(state)
    loaded = ledger.load(["job"])["job"]
    assert loaded == state
    assert loaded.next_run.utcoffset() == dt.timedelta(0)
    assert ledger.load_all() == {"job": state}


def test_non_utc_instants_are_stored_as_the_same_instant(ledger):
    paris = dt.timezone(dt.timedelta(hours=1))
    ledger.save(JobState("job", next_run=dt.datetime(2026, 1, 5, 13, 0, tzinfo=paris)))
    assert ledger.load(["job"])["job"].next_run == dt.datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def test_save_replaces_the_row(ledger):
    ledger.save(full_state())
    ledger.save(full_state(error_count=0, last_error={}, skip_reason=None, depends_on=()))
    loaded = ledger.load_all()
    assert list(loaded) == ["job"]
    assert loaded["job"].error_count == 0 and loaded["job"].last_error == {}
    assert loaded["job"].skip_reason is None and loaded["job"].depends_on == ()


def test_load_returns_only_existing_named_rows(ledger):
    for name in ("a", "b", "c"):
        ledger.save(JobState(name, next_run=T0))
    assert set(ledger.load(["a", "c", "missing"])) == {"a", "c"}


def test_log_rows_newest_first_with_every_field(ledger):
    ledger.save(full_state(), LogEntry("job", T0, 1.25, Outcome.SUCCEEDED, success=T0, output="hello"))
    later = T0 + dt.timedelta(minutes=5)
    ledger.save(full_state(), LogEntry("job", later, 0.5, Outcome.FAILED, exc_type="ValueError",
                                       exc_value="bad", exc_traceback="Traceback...", output="tail"))
    ledger.save(full_state(), LogEntry("job", later + dt.timedelta(minutes=5), 3.0, Outcome.TIMED_OUT,
                                       exc_type="JobTimeout", exc_value="killed"))
    newest, failed, succeeded = ledger.logs("job")
    assert newest.outcome is Outcome.TIMED_OUT
    assert failed == LogEntry("job", later, 0.5, Outcome.FAILED, exc_type="ValueError", exc_value="bad",
                              exc_traceback="Traceback...", output="tail")
    assert succeeded == LogEntry("job", T0, 1.25, Outcome.SUCCEEDED, success=T0, output="hello")
    assert [entry.outcome for entry in ledger.logs("job", limit=2)] == [Outcome.TIMED_OUT, Outcome.FAILED]


def test_save_without_log_adds_no_log_row(ledger):
    ledger.save(full_state())
    assert ledger.logs("job") == []


def test_set_skip_reason_creates_or_updates_only_that_column(ledger):
    assert ledger.set_skip_reason("new", "'a' hasn't been run yet", ["a"], None) is True
    created = ledger.load(["new"])["new"]
    assert created.skip_reason == "'a' hasn't been run yet" and created.depends_on == ("a",)
    assert created.next_run is None and created.last_run is None and created.error_count == 0
    ledger.save(full_state())
    assert ledger.set_skip_reason("job", None, ["ignored"], full_state()) is True
    assert ledger.load(["job"])["job"] == full_state(skip_reason=None)
    assert ledger.logs("new") == [] and ledger.logs("job") == []


def test_set_skip_reason_is_dropped_when_the_row_changed_since_the_decision(ledger):
    """A runner that read the ledger before another runner ran (or started) the job must not
    label it as waiting afterwards."""
    seen = full_state(skip_reason=None)
    ledger.save(seen.but(last_run=T0 + dt.timedelta(minutes=5)))  # another runner ran it since
    assert ledger.set_skip_reason("job", "'a' errored last time it ran", ["a"], seen) is False
    ledger.save(seen.but(ongoing=T0))  # another runner is running it now
    assert ledger.set_skip_reason("job", "'a' errored last time it ran", ["a"], seen) is False
    assert ledger.load(["job"])["job"].skip_reason is None
    assert ledger.set_skip_reason("job", "'a' errored last time it ran", ["a"], seen.but(ongoing=T0)) is True
    ledger.save(JobState("other", last_run=T0))  # the row appeared since a read that had none
    assert ledger.set_skip_reason("other", "'a' hasn't been run yet", ["a"], None) is False
    assert ledger.load(["other"])["other"].skip_reason is None


def test_reset_forgets_the_row_but_keeps_the_log(ledger):
    ledger.save(full_state(), LogEntry("job", T0, 1.0, Outcome.SUCCEEDED, success=T0))
    assert ledger.reset("job") is True
    assert ledger.reset("job") is False
    assert ledger.load_all() == {}
    assert len(ledger.logs("job")) == 1


def test_a_lock_has_one_holder_across_ledgers_and_in_one_ledger(ledger, store_url):
    other = open_ledger(store_url)
    try:
        lock = ledger.try_lock("job")
        assert lock is not None
        assert ledger.try_lock("job") is None  # not even a second time in the same process
        assert other.try_lock("job") is None
        held_elsewhere = other.try_lock("another job")
        assert held_elsewhere is not None and ledger.try_lock("another job") is None
        lock.release()
        lock.release()  # releasing twice is harmless
        again = other.try_lock("job")
        assert again is not None and ledger.try_lock("job") is None
        again.release()
        held_elsewhere.release()
    finally:
        other.close()


def test_a_lock_dies_with_its_process(ledger, store_url):
    """SIGKILL a process that holds a job's lock: the lock is free again at once."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from crontabber.state import open_ledger; "
         "lock = open_ledger(sys.argv[1]).try_lock('job'); print(lock is not None, flush=True); "
         "time.sleep(120)", store_url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "True"
        assert ledger.try_lock("job") is None
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    # the kernel drops a flock at once; the server notices a closed socket within moments
    lock = wait_for(lambda: ledger.try_lock("job"), limit=10)
    assert lock is not None
    lock.release()


def test_opening_again_keeps_rows(store_url):
    first = open_ledger(store_url)
    first.save(full_state(), LogEntry("job", T0, 1.0, Outcome.SUCCEEDED, success=T0))
    first.close()
    second = open_ledger(store_url)
    try:
        assert second.load_all() == {"job": full_state()}
        assert len(second.logs("job")) == 1
    finally:
        second.close()


def test_threads_share_one_ledger_safely(ledger):
    """--max-workers: many threads locking and writing through one ledger object."""
    holders: Counter[str] = Counter()
    overlaps: list[str] = []
    guard = threading.Lock()
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        try:
            for round_ in range(15):
                name = f"job-{(number + round_) % 5}"
                lock = ledger.try_lock(name)
                if lock is None:
                    continue
                with guard:
                    holders[name] += 1
                    if holders[name] > 1:
                        overlaps.append(name)
                state = ledger.load([name]).get(name) or JobState(name)
                ledger.save(state.but(error_count=state.error_count + 1),
                            LogEntry(name, T0, 0.1, Outcome.SUCCEEDED, success=T0))
                with guard:
                    holders[name] -= 1
                lock.release()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and overlaps == []
    states = ledger.load_all()
    # every increment happened under the job's lock, so none was lost
    assert sum(state.error_count for state in states.values()) == sum(
        len(ledger.logs(name, limit=1000)) for name in states)
