"""Shared fixtures; the job-author fixtures come from crontabber.testing (the pytest11 plugin)."""

import atexit
import os
import shutil
import tempfile

import pytest

from tests import jobs_for_tests


def pytest_configure(config):
    # Ticks cache their resolved settings (crontabber.config.cache): keep that out of ~/.cache.
    os.environ.setdefault("CRONTABBER_CACHE_DIR", tempfile.mkdtemp(prefix="crontabber-test-cache-"))
    atexit.register(shutil.rmtree, os.environ["CRONTABBER_CACHE_DIR"], ignore_errors=True)
    config.addinivalue_line("markers", "airflow: runs the real Apache Airflow 3.3 (CI always runs these)")
    config.addinivalue_line("markers", "airflow_live: a live Airflow deployment (api-server, scheduler, "
                            "dag-processor, triggerer, Celery) on the real clock, ~6 min (CI always runs these)")


@pytest.fixture(autouse=True)
def _clear_calls():
    jobs_for_tests.CALLS.clear()
    jobs_for_tests.FlakyBackfillJob.fail_on = None
    yield


@pytest.fixture
def calls():
    return jobs_for_tests.CALLS


@pytest.fixture
def harness(crontabber_harness):
    return crontabber_harness


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path):
    """A fresh ledger URL on each store: a SQLite file, or a temporary PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    else:
        from tests.pg_support import temp_database

        with temp_database() as url:
            yield url
