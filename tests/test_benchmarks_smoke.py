"""Each benchmark script runs end to end in its tiny mode (no timing is asserted here)."""

from __future__ import annotations

import uuid

import pytest

from benchmarks import common, parallel, per_job, run_all, startup, tick
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


@pytest.mark.parametrize("script", [tick, per_job, parallel, startup], ids=lambda s: s.__name__)
def test_a_benchmark_runs_in_quick_mode(script, capsys):
    assert script.main(["--quick"] + ([] if script is parallel else ["--no-original"])) == 0
    out = capsys.readouterr().out
    assert "median" in out  # a table was printed
    assert "PostgreSQL NOT measured" not in out
    assert "MISSED" in out or "met" in out or script is tick  # tick's quick size has no target


def test_run_all_runs_every_step(capsys):
    assert run_all.main(["--quick", "--no-original", "--skip", "dags"]) == 0
    out = capsys.readouterr().out
    for step in ("== tick ==", "== per_job ==", "== parallel ==", "== startup =="):
        assert step in out
