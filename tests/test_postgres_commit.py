"""The PostgreSQL ledger session keeps the server's durable commits unless the URL or PGOPTIONS opts out."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from crontabber.state import open_ledger
from tests.pg_support import temp_database


@pytest.fixture
def pg_url():
    with temp_database() as url:
        yield url


def session_setting(url: str, name: str) -> str:
    ledger = open_ledger(url)
    try:
        with ledger._conn.cursor() as cursor:  # the runner's own session
            cursor.execute(f"SHOW {name}")
            return cursor.fetchone()[0]
    finally:
        ledger.close()


def test_the_ledger_session_waits_for_the_disk_by_default(pg_url, monkeypatch):
    monkeypatch.delenv("PGOPTIONS", raising=False)
    assert session_setting(pg_url, "synchronous_commit") == "on"


def test_the_url_can_opt_out_of_flushed_commits(pg_url):
    url = f"{pg_url}?options={quote('-c synchronous_commit=off')}"
    assert session_setting(url, "synchronous_commit") == "off"


def test_other_url_options_are_kept(pg_url):
    url = f"{pg_url}?options={quote('-c lock_timeout=7s')}"
    assert session_setting(url, "lock_timeout") == "7s"
    assert session_setting(url, "synchronous_commit") == "on"


def test_pgoptions_is_honoured(pg_url, monkeypatch):
    monkeypatch.setenv("PGOPTIONS", "-c synchronous_commit=local -c lock_timeout=3s")
    assert session_setting(pg_url, "synchronous_commit") == "local"
    monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=3s")
    assert session_setting(pg_url, "lock_timeout") == "3s"
    assert session_setting(pg_url, "synchronous_commit") == "on"
