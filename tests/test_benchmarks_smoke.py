"""Each benchmark script runs end to end in its tiny mode (no timing is asserted here)."""

from __future__ import annotations

import uuid

import pytest

from benchmarks import common, config_jobs, ledger_poke, parallel, per_job, run_all, startup, tick
from tests.pg_support import TEST_DSN, admin


@pytest.fixture(autouse=True)
def _bench_server(monkeypatch):
    """The test server, and databases of this test's own (a real benchmark may be running)."""
    suffix = uuid.uuid4().hex[:10]
    names = {"OURS_DB": f"crontabber_bench_test_ours_{suffix}", "ORIGINAL_DB": f"crontabber_bench_test_orig_{suffix}"}
    monkeypatch.setattr(common, "BENCH_DSN", TEST_DSN)
    for attribute, name in names.items():
        monkeypatch.setattr(common, attribute, name)
    yield
    conn = admin(TEST_DSN)
    try:
        with conn.cursor() as cursor:
            for name in names.values():
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        conn.close()


@pytest.mark.parametrize("script", [tick, config_jobs, per_job, parallel, startup, ledger_poke],
                         ids=lambda s: s.__name__)
def test_a_benchmark_runs_in_quick_mode(script, capsys):
    no_original = script in (parallel, config_jobs, ledger_poke)
    assert script.main(["--quick"] + ([] if no_original else ["--no-original"])) == 0
    out = capsys.readouterr().out
    assert "median" in out  # a table was printed
    assert "PostgreSQL NOT measured" not in out
    assert "MISSED" in out or "met" in out or script in (tick, config_jobs)  # no target at the quick size


def test_run_all_runs_every_step(capsys):
    assert run_all.main(["--quick", "--no-original", "--skip", "dags"]) == 0
    out = capsys.readouterr().out
    for step in ("== tick ==", "== config_jobs ==", "== per_job ==", "== parallel ==", "== startup =="):
        assert step in out


def test_the_bridge_figures_are_read_next_to_their_targets():
    output = ("generated (after-hello.py)     parse: median 0.60 ms, best 0.49 ms (50 rounds)\n"
              "hand-written, same tasks       parse: median 0.40 ms, best 0.47 ms (50 rounds)\n"
              "1,000 jobs: config load 1.21 s, export 0.36 s (1.5 MB of DAG source)\n")
    table = run_all.dag_targets(output).render()
    assert "1.50" in table and "MISSED" in table  # 0.60 / 0.40 > 1.2
    assert "1.57 s" in table and "met" in table
