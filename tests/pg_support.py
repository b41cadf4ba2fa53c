"""Real PostgreSQL for tests: a throwaway database per test, and private clusters to restart.

The server comes from ``CRONTABBER_TEST_DSN`` (default the local ``test`` database). A
missing server fails the tests that need it; nothing here skips. The shared server is
never restarted or reconfigured: fault tests that stop a server start their own with
initdb/pg_ctl, as the ``postgres`` OS user, on a free loopback port.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2

TEST_DSN = os.environ.get("CRONTABBER_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REPO = Path(__file__).resolve().parent.parent


def with_database(dsn: str, dbname: str) -> str:
    """``dsn`` pointing at database ``dbname`` instead."""
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{dbname}"))


def admin(dsn: str = TEST_DSN) -> psycopg2.extensions.connection:
    """An autocommit connection to the server's maintenance database."""
    conn = psycopg2.connect(dsn, connect_timeout=10, application_name="crontabber-tests")
    conn.autocommit = True
    return conn


@contextlib.contextmanager
def temp_database(dsn: str = TEST_DSN) -> Iterator[str]:
    """Create a uniquely named database, yield its URL, drop it (and its sessions) afterwards."""
    name = f"crontabber_test_{uuid.uuid4().hex[:12]}"
    conn = admin(dsn)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield with_database(dsn, name)
    finally:
        with conn.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


def execute(url: str, statement: str, params: tuple = ()) -> list[tuple]:
    """Run one statement on its own autocommit connection; the rows it returned."""
    conn = admin(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        conn.close()


def wait_for(probe: Callable[[], Any], limit: float = 30.0) -> Any:
    """Poll ``probe`` until it returns something truthy; None once ``limit`` seconds pass."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.01)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(*argv: str) -> subprocess.CompletedProcess:
    runner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*runner, *argv], capture_output=True, text=True, check=True, timeout=120)


class PrivateCluster:
    """A PostgreSQL cluster of our own (initdb + pg_ctl) that a test may stop and restart."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        initdb = shutil.which("initdb") or (found[-1] if found else None)
        if initdb is None:
            raise RuntimeError("initdb not found (install the PostgreSQL server package)")
        self.bin = Path(initdb).parent
        self.root = Path(tempfile.mkdtemp(prefix="crontabber-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")

    def initdb(self) -> None:
        _as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                     "--no-sync", "--encoding=UTF8")

    def _ctl(self, *args: str) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c full_page_writes=off")
        _as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
                     "-o", options, "-w", "-t", "60", *args)

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        """Stop (fast: sessions are terminated) and start again on the same port."""
        self._ctl("-m", "fast", "restart")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ctl("-m", "immediate", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def crontabber(ini: Path, *args: str, calls: Path | None = None, release: Path | None = None,
               **popen: object) -> subprocess.Popen:
    """Start the ``crontabber`` command (``python -m crontabber``) as a real process.

    ``calls`` and ``release`` are the files the jobs of ``tests.runner_jobs`` use."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if calls is not None:
        env["CRONTABBER_TEST_CALLS"] = str(calls)
    if release is not None:
        env["CRONTABBER_TEST_RELEASE"] = str(release)
    return subprocess.Popen([sys.executable, "-m", "crontabber", f"--admin.conf={ini}", *args],
                            cwd=str(REPO), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)


def write_ini(folder: Path, url: str, jobs: list[str]) -> Path:
    """A minimal crontabber.ini in ``folder`` for ``jobs`` on the ledger at ``url``."""
    ini = folder / "crontabber.ini"
    lines = "\n".join(f"    {job}" for job in jobs)
    ini.write_text(f"[crontabber]\ndatabase_url = {url}\njobs = '''\n{lines}\n'''\n")
    return ini
