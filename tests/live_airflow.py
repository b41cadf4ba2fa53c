"""A real Airflow 3.3 deployment for the live tier: processes on loopback, metadata in PostgreSQL.

``Deployment`` migrates a scratch PostgreSQL database, starts the api-server, scheduler,
dag-processor and triggerer (each in its own process group, ended by its pid with a
bounded wait), and talks to them through the REST API with a token from ``/auth/token``.
It is configured as docs/airflow.md tells a standalone deployment: the execution API URL,
a shared JWT secret and SimpleAuthManager with a users and passwords file.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.pg_support import REPO, free_port

AIRFLOW = Path(sys.executable).with_name("airflow")
PASSWORD = secrets.token_hex(8)


def wait_until(probe: Callable[[], Any], limit: float, what: str, every: float = 0.5) -> Any:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` after ``limit`` s."""
    deadline = time.monotonic() + limit
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit:g} s waiting for {what}")
        time.sleep(every)


class Deployment:
    """Airflow's services for one test module; ``stop()`` ends every process it started."""

    def __init__(self, home: Path, metadata_url: str, extra_env: dict[str, str]) -> None:
        self.home = home
        self.dags = home / "dags"
        self.dags.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        (home / "passwords.json").write_text(json.dumps({"admin": PASSWORD}))
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
        self.env.update({
            "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url.replace("postgresql://", "postgresql+psycopg2://", 1),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor", "AIRFLOW__CORE__PARALLELISM": "8",
            # a standalone deployment: where tasks reach the execution API, one JWT secret, the users
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base}/execution/",
            "AIRFLOW__API__BASE_URL": f"{self.base}/", "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port), "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32), "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__CORE__AUTH_MANAGER":
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            # parse new files within seconds; log servers on free ports (other Airflows may run here)
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "3", "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True",  # the ledger sensors defer to the triggerer
            "PYTHONPATH": str(REPO),
        })
        self.env.update(extra_env)
        self.processes: dict[str, subprocess.Popen] = {}
        self._token: str | None = None

    # -- processes ----------------------------------------------------------------------
    def migrate(self) -> None:
        done = subprocess.run([str(AIRFLOW), "db", "migrate"], env=self.env, capture_output=True, text=True,
                              timeout=240)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    def start(self, name: str, *argv: str, env: dict[str, str] | None = None) -> None:
        """Start ``airflow <argv>`` as ``name`` in a process group of its own, logging to a file."""
        log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 - closed when the process ends
        self.processes[name] = subprocess.Popen([str(AIRFLOW), *argv], env={**self.env, **(env or {})},
                                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                start_new_session=True, cwd=self.home)
        log.close()

    def end(self, name: str) -> None:
        """SIGTERM the process group of ``name`` (its pid), SIGKILL after a bounded wait."""
        process = self.processes.pop(name, None)
        if process is None:
            return
        for sig, grace in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        try:  # the group may outlive its leader a moment (task processes)
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        for name in list(self.processes):
            self.end(name)

    def alive(self) -> None:
        """Fail with the log tail of a service that died."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.home / f"{name}.log").read_text(errors="replace")[-3000:]
                raise AssertionError(f"airflow {name} exited {process.returncode}:\n{tail}")

    # -- REST API -----------------------------------------------------------------------
    def token(self) -> str:
        if self._token is None:
            response = httpx.post(f"{self.base}/auth/token", json={"username": "admin", "password": PASSWORD},
                                  timeout=30)
            assert response.status_code == 201, response.text
            self._token = response.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.base}/api/v2{path}", timeout=60,
                                 headers={"Authorization": f"Bearer {self.token()}"}, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response.json() if response.content else None

    def healthy(self) -> bool:
        self.alive()
        try:
            health = httpx.get(f"{self.base}/api/v2/monitor/health", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return False
        return all(health.get(part, {}).get("status") == "healthy"
                   for part in ("metadatabase", "scheduler", "triggerer", "dag_processor"))

    def dag_ids(self) -> set[str]:
        errors = self.api("GET", "/importErrors")["import_errors"]
        assert not errors, errors
        return {dag["dag_id"] for dag in self.api("GET", "/dags", params={"limit": 100})["dags"]}

    def runs(self, dag_id: str) -> list[dict]:
        return self.api("GET", f"/dags/{dag_id}/dagRuns", params={"order_by": "run_after", "limit": 200})["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict]:
        found = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return {ti["task_id"]: ti for ti in found}

    def log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        data = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
                        params={"full_content": "true"})
        return json.dumps(data.get("content"))

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        from datetime import datetime, timezone

        body = {"logical_date": datetime.now(timezone.utc).isoformat(), "conf": conf or {}}
        return self.api("POST", f"/dags/{dag_id}/dagRuns", json=body)["dag_run_id"]

    def finished(self, dag_id: str, run_id: str, limit: float) -> dict:
        """The run once it is success or failed (bounded wait)."""
        def done() -> dict | None:
            self.alive()
            run = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
            return run if run["state"] in ("success", "failed") else None

        return wait_until(done, limit, f"{dag_id} run {run_id} to finish")
