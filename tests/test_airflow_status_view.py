"""The status page inside Airflow's UI (issue 13 item 3), in a running Airflow 3.3 api-server.

SimpleAuthManager with a passwords file; tokens from ``POST /auth/token``; the page is read
by headless Chromium through the UI's ``_token`` cookie, as the UI's iframe would. The
server runs on a free loopback port and is ended by its pid (its process group).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from crontabber.cli.main import main
from crontabber.testing import Harness
from tests import example_states as ex
from tests.browser import Browser
from tests.test_airflow_support import AIRFLOW, REPO, airflow_home
from tests.test_views import ROWS

pytestmark = pytest.mark.airflow
PASSWORDS = {"admin": "admin-pw-13", "viewer": "viewer-pw-13"}
SECOND_DAG = '''\
"""A DAG of a second crontabber configuration (its Variable is named by the tag)."""
import datetime as dt

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG("foo", schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
         tags=["crontabber", "crontabber-bridge", "crontabber-config:second_crontabber"]):
    EmptyOperator(task_id="foo")
'''


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ApiServer:
    """``airflow api-server`` on a free loopback port, in its own process group."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = dict(env, AIRFLOW__API__BASE_URL=self.url)
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(AIRFLOW), "api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
                env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_ready(self, timeout: float = 150.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=5) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        raise AssertionError(f"api-server not ready after {timeout} s: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json"})
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                text = reply.read().decode()
                status = reply.status
        except urllib.error.HTTPError as error:
            text, status = error.read().decode(), error.code
        try:
            return status, json.loads(text)
        except json.JSONDecodeError:
            return status, {"text": text}


def _digest(folder: Path) -> str:
    """The ledger's main file, and what its write-ahead log holds (a WAL reader may create an empty one)."""
    wal = folder / "ledger.sqlite-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    return hashlib.sha256((folder / "ledger.sqlite").read_bytes()).hexdigest()


@pytest.fixture
def deployment(tmp_path):
    """Two crontabber configurations, their DAGs in Airflow's DB, and an api-server."""
    home = airflow_home()
    dags = home / "dags"
    for path in dags.glob("*.py"):
        path.unlink()
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = ex.build(tmp_path / "first")
    second = Harness(tmp_path / "second", first.clock)
    second.configure("tests.jobs_for_tests.FooJob|1h")
    second.tick()
    out, err = io.StringIO(), io.StringIO()
    conf = f"--admin.conf={first.ini_path}"
    assert main(["export-dags", conf, "--mode", "native", "--jobs", "nightly-cleanup", "-o", str(dags)],
                out=out, err=err) == 0, err.getvalue()
    assert main(["export-dags", conf, "--mode", "bridge", "--jobs", "hello", "-o", str(dags)],
                out=out, err=err) == 0, err.getvalue()
    (dags / "foo.py").write_text(SECOND_DAG)
    passwords = home / "passwords-13.json"
    passwords.write_text(json.dumps(PASSWORDS))
    env = dict(os.environ, PYTHONPATH=str(REPO),
               AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager."
                                           "SimpleAuthManager",
               AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin,viewer:viewer",
               AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
               AIRFLOW__API_AUTH__JWT_SECRET="crontabber-test-secret-13-" + "x" * 20,
               AIRFLOW__CORE__DAGS_FOLDER=str(dags))
    done = subprocess.run([str(AIRFLOW), "dags", "reserialize"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for holder in (first, second):
        holder.close()
    server = ApiServer(env, tmp_path / "api-server.log")
    try:
        server.wait_ready()
        yield server, first.ini_path, second.ini_path
    finally:
        server.stop()
        for path in dags.glob("*.py"):
            path.unlink()


def test_the_page_inside_airflow(deployment, tmp_path):
    server, first_ini, second_ini = deployment
    status, reply = server.call("GET", "/crontabber/")
    assert status == 401, reply  # a plugin app is not protected by itself: this one is
    assert server.call("GET", "/crontabber/", token="not-a-token")[0] in (401, 403)
    status, reply = server.call("POST", "/auth/token", {"username": "admin", "password": PASSWORDS["admin"]})
    assert status in (200, 201), reply
    token = reply["access_token"]

    for key, value in (("crontabber_config", str(first_ini)), ("second_crontabber", str(second_ini))):
        status, reply = server.call("POST", "/api/v2/variables", {"key": key, "value": value}, token)
        assert status in (200, 201), reply
    status, runs = server.call("GET", "/api/v2/dags/nightly-cleanup/dagRuns", token=token)
    for earlier in runs.get("dag_runs", []):  # the session's Airflow DB may hold other tests' runs
        assert server.call("DELETE", f"/api/v2/dags/nightly-cleanup/dagRuns/{earlier['dag_run_id']}",
                           token=token)[0] in (200, 204)
    for run_id, state, when in (("old", "success", "2026-01-04T03:00:00Z"), ("new", "failed", "2026-01-05T03:00:00Z")):
        status, reply = server.call("POST", "/api/v2/dags/nightly-cleanup/dagRuns",
                                    {"dag_run_id": run_id, "logical_date": when}, token)
        assert status in (200, 201), reply
        status, reply = server.call("PATCH", f"/api/v2/dags/nightly-cleanup/dagRuns/{run_id}", {"state": state}, token)
        assert status == 200, reply
    status, plugins = server.call("GET", "/api/v2/plugins", token=token)
    crontabber_plugin, = [plugin for plugin in plugins["plugins"] if plugin["name"] == "crontabber"]
    assert crontabber_plugin["external_views"][0]["href"] == "/crontabber/"
    assert crontabber_plugin["fastapi_apps"][0]["url_prefix"] == "/crontabber"

    before = _digest(first_ini.parent)
    standalone = tmp_path / "standalone.html"
    assert main(["status", f"--admin.conf={first_ini}", "--html", str(standalone)],
                out=io.StringIO(), err=io.StringIO()) == 0
    with Browser(timeout=60) as browser:
        browser.open(standalone.as_uri())
        expected = {row["job"]: row for row in browser.evaluate(ROWS)}
        browser.send("Network.enable")
        browser.send("Network.setCookie", {"name": "_token", "value": token, "url": server.url + "/"})
        browser.open(f"{server.url}/crontabber/")
        rows = browser.evaluate(ROWS)
        sections = browser.evaluate("[...document.querySelectorAll('section.config h2:first-child')]"
                                    ".map(h => h.textContent)")
    assert _digest(first_ini.parent) == before  # read-only: the ledger files are byte for byte the same

    assert sections == [f"{first_ini} (Variable crontabber_config)", f"{second_ini} (Variable second_crontabber)"]
    first_rows = {row["job"]: row for row in rows if row["section"] == "s0"}
    assert {name: row["state"] for name, row in first_rows.items()} == ex.EXPECTED
    for name, row in first_rows.items():
        if name == "nightly-cleanup":
            continue
        mine = expected[name]
        assert (row["state"], row["errors"], row["error"], row["skip"], row["success"]) == \
            (mine["state"], mine["errors"], mine["error"], mine["skip"], mine["success"]), name
        assert [mark.split()[1] for mark in row["marks"]] == [mark.split()[1] for mark in mine["marks"]], name
    native = first_rows["nightly-cleanup"]
    assert native["runsOn"].startswith("Airflow native since 2026-01-04 12:30 CET")
    assert "read from Airflow: latest DAG run failed (" in native["runsOn"]
    assert native["link"] == f"{server.url}/dags/nightly-cleanup"
    assert [mark.split()[1] for mark in native["marks"]] == ["ok", "failed"], native["marks"]
    assert native["errors"] == "1" and native["error"] is None
    assert first_rows["hello"]["link"] == f"{server.url}/dags/hello"
    assert first_rows["always-fails"]["link"] is None  # no DAG deployed for it
    second_rows = [row for row in rows if row["section"] == "s1"]
    assert [(row["job"], row["state"], row["link"]) for row in second_rows] == [
        ("foo", "ok", f"{server.url}/dags/foo")]


def test_the_plugin_module_is_light_for_workers():
    """The scheduler, dag-processor and workers load the plugin: FastAPI is built on first request only."""
    script = textwrap.dedent("""
        import sys
        import airflow_bridge.status_view as view
        assert view.build_app.cache_info().currsize == 0
        print("ok")
    """)
    done = subprocess.run([os.sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr
