"""Many runner processes on one config and one ledger: every due job runs exactly once.

Real ``crontabber`` processes, the real clock, the real PostgreSQL server (and the
same test on SQLite): 8 runners started together, 3 ticks, 40 due jobs in chains of
three. Half the runners also run jobs in parallel threads (``--max-workers 4``).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from crontabber.state import open_ledger
from tests.pg_support import crontabber, write_ini
from tests.runner_jobs import COUNT, counting_jobs_list, parent_of, read_calls

RUNNERS = 8
TICKS = 3




def tick_together(ini: Path, calls: Path) -> list[tuple[int, str]]:
    """Start RUNNERS runners at once (every other one with --max-workers 4); wait for all."""
    processes = [crontabber(ini, *(["--max-workers", "4"] if number % 2 else []), calls=calls)
                 for number in range(RUNNERS)]
    results = []
    for process in processes:
        _, err = process.communicate(timeout=120)
        results.append((process.returncode, err))
    return results


def test_eight_runners_three_ticks_run_each_due_job_exactly_once(tmp_path, store_url):
    calls = tmp_path / "calls.jsonl"
    ini = write_ini(tmp_path, store_url, counting_jobs_list("1d"))
    for _ in range(TICKS):
        results = tick_together(ini, calls)
        assert [code for code, _ in results] == [0] * RUNNERS, results
        assert all(err == "" for _, err in results), results

    events = read_calls(calls)
    done = Counter(app for event, app, *_ in events if event == "done")
    started = Counter(app for event, app, *_ in events if event == "start")
    expected = {f"count-{number:02d}" for number in range(COUNT)}
    assert set(done) == expected, f"missed: {sorted(expected - set(done))}"  # 0 misses
    assert [app for app, n in done.items() if n > 1] == []  # 0 duplicates
    assert started == done
    assert len({pid for *_, pid, _ in events}) > 1  # the work really was shared

    # dependencies held: each child started after its parent had finished
    finished = {app: when for event, app, _, _, when in events if event == "done"}
    began = {app: when for event, app, _, _, when in events if event == "start"}
    for number in range(COUNT):
        parent = parent_of(number)
        if parent:
            assert began[f"count-{number:02d}"] >= finished[parent]

    ledger = open_ledger(store_url)
    try:
        states = ledger.load_all()
        assert set(states) == expected
        for state in states.values():
            assert state.last_success is not None and state.ongoing is None
            assert state.error_count == 0 and state.next_run > state.last_run
            assert state.skip_reason is None, state
            assert len(ledger.logs(state.app_name)) == 1
    finally:
        ledger.close()
