"""Sentry and syslog, as 0.18.1 deployments alert through them, against capture servers on loopback.

The Sentry server is a real HTTP endpoint that receives sentry-sdk's envelopes; the syslog
server is a real UDP socket. The crontabber under test runs as a subprocess, as cron runs it.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

J = "tests.jobs_for_tests"
REPO = Path(__file__).resolve().parent.parent


class SentryCapture:
    """An HTTP server that takes Sentry envelopes, answering ``status`` to each."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.envelopes: list[tuple[str, dict[str, str], list[dict]]] = []
        capture = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                lines = [json.loads(line) for line in body.splitlines() if line.strip()]
                capture.envelopes.append((self.path, dict(self.headers), lines))
                self.send_response(capture.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def dsn(self, project: int = 7) -> str:
        return f"http://publickey@127.0.0.1:{self.server.server_address[1]}/{project}"

    def events(self) -> list[dict]:
        """The event payloads received (the third line of each envelope)."""
        return [lines[2] for _, _, lines in self.envelopes if lines[1].get("type") == "event"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def sentry() -> Iterator[SentryCapture]:
    capture = SentryCapture()
    yield capture
    capture.close()


def write_ini(folder: Path, jobs: list[str], extra: str = "") -> Path:
    path = folder / "crontabber.ini"
    lines = ["[crontabber]", f"database_url = sqlite:///{folder}/ledger.sqlite", "jobs = '''"]
    lines += [f"    {job}" for job in jobs] + ["'''"]
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def crontabber(*args: str, prelude: str = "") -> subprocess.CompletedProcess:
    """``python -m crontabber ARGS`` (``prelude`` runs first in the same interpreter)."""
    code = f"{prelude}\nimport sys\nfrom crontabber.cli.main import main\nsys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=60)


def test_a_failed_job_is_sent_to_sentry_with_job_class_traceback_and_host(tmp_path, sentry):
    ini = write_ini(tmp_path, [f"{J}.BrokenJob|1h", f"{J}.FooJob|1h"], f"[sentry]\ndsn = {sentry.dsn()}\n")
    done = crontabber(f"--admin.conf={ini}", "--logging.stderr_error_logging_level=20")
    assert done.returncode == 0, done.stderr
    [event] = sentry.events()
    assert event["tags"] == {"job": "broken", "job_class": f"{J}.BrokenJob", "job_kind": "python"}
    assert event["server_name"] == socket.gethostname()
    [exception] = event["exception"]["values"]
    assert (exception["type"], exception["value"]) == ("ValueError", "broken on purpose")
    assert exception["stacktrace"]["frames"][-1]["function"] == "run"
    assert all("vars" not in frame for frame in exception["stacktrace"]["frames"])  # locals may hold secrets
    path, headers, _ = sentry.envelopes[0]
    assert path == "/api/7/envelope/" and "sentry_key=publickey" in headers["X-Sentry-Auth"]
    # the event id is logged as 0.18.1 logged raven's reference; the DSN's key never is
    assert f"Error captured in Sentry. Reference: {event['event_id']}" in done.stderr
    assert "publickey" not in done.stderr


def test_a_job_failing_in_a_forked_child_is_sent_with_its_traceback_text(tmp_path, sentry):
    ini = write_ini(tmp_path, [f"{J}.BrokenJob|1h"],
                    f"    [[class-BrokenJob]]\n    timeout = 30\n[sentry]\ndsn = {sentry.dsn()}\n")
    done = crontabber(f"--admin.conf={ini}")
    assert done.returncode == 0, done.stderr
    [event] = sentry.events()
    assert event["tags"]["job"] == "broken"
    assert event["exception"]["values"][0]["value"] == "broken on purpose"
    assert "raise ValueError" in event["extra"]["traceback"]


def test_secrets_sentry_dsn_is_read_too(tmp_path, sentry):
    ini = write_ini(tmp_path, [f"{J}.BrokenJob|1h"], f"[secrets]\n    [[sentry]]\n    dsn = {sentry.dsn(3)}\n")
    assert crontabber(f"--admin.conf={ini}").returncode == 0
    assert [path for path, _, _ in sentry.envelopes] == ["/api/3/envelope/"]


def test_a_sentry_server_that_refuses_the_event_costs_one_warning_and_the_tick_carries_on(tmp_path, sentry):
    sentry.status = 500
    ini = write_ini(tmp_path, [f"{J}.BrokenJob|1h", f"{J}.FooJob|1h"], f"[sentry]\ndsn = {sentry.dsn()}\n")
    done = crontabber(f"--admin.conf={ini}")
    assert done.returncode == 0
    assert "could not send broken's failure to Sentry at http://127.0.0.1" in done.stderr
    assert "the server answered 500" in done.stderr
    listing = crontabber("list", f"--admin.conf={ini}", "--format=json")
    assert {row["app_name"]: row["state"] for row in json.loads(listing.stdout)}["foo"] == "ok"


def test_sentrytest_exits_0_only_when_the_server_answered_2xx(tmp_path, sentry):
    ini = write_ini(tmp_path, [f"{J}.FooJob|1h"], f"[sentry]\ndsn = {sentry.dsn()}\n")
    done = crontabber("--sentrytest", f"--admin.conf={ini}")
    assert done.returncode == 0, done.stderr
    [event] = sentry.events()
    assert event["message"] == "Sentry test sent from crontabber"
    assert done.stdout.startswith(f"Sentry successful identifier: {event['event_id']}")

    sentry.status = 403
    done = crontabber("--sentrytest", f"--admin.conf={ini}")
    assert done.returncode == 1
    assert done.stderr.strip().endswith("the server answered 403 Forbidden")

    port = sentry.server.server_address[1]
    sentry.close()  # nothing listens there now
    done = crontabber("--sentrytest", f"--admin.conf={ini}", f"--sentry.dsn=http://k@127.0.0.1:{port}/7")
    assert done.returncode == 1
    assert "no answer within 10 s" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_sentrytest_without_a_dsn_is_a_usage_error(tmp_path):
    done = crontabber("--sentrytest", f"--admin.conf={write_ini(tmp_path, [f'{J}.FooJob|1h'])}")
    assert done.returncode == 2
    assert "sentry.dsn is not configured" in done.stderr


def test_a_dsn_without_sentry_sdk_installed_is_one_clear_line(tmp_path):
    ini = write_ini(tmp_path, [f"{J}.BrokenJob|1h"], "[sentry]\ndsn = http://k@127.0.0.1:9/1\n")
    without_sdk = "import sys; sys.modules['sentry_sdk'] = None"  # what an absent package looks like
    done = crontabber(f"--admin.conf={ini}", prelude=without_sdk)
    assert done.returncode == 0
    assert done.stderr.count("sentry-sdk is not installed") == 1
    done = crontabber("--sentrytest", f"--admin.conf={ini}", prelude=without_sdk)
    assert done.returncode == 2
    assert done.stderr.startswith("crontabber: error: sentry.dsn is set but sentry-sdk is not installed")
    done = crontabber("configtest", f"--admin.conf={ini}", prelude=without_sdk)
    assert done.returncode == 0 and "note: sentry.dsn is set but sentry-sdk is not installed" in done.stdout


@pytest.fixture
def syslog_server() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(10)
    yield server
    server.close()


def test_log_lines_go_to_syslog_with_the_configured_facility_level_and_format(tmp_path, syslog_server):
    port = syslog_server.getsockname()[1]
    ini = write_ini(tmp_path, [f"{J}.BrokenJob|1h"], f"""[logging]
syslog_error_logging_level = 30
[resource]
    [[logging]]
    syslog_host = 127.0.0.1
    syslog_port = {port}
    syslog_facility_string = local3
    syslog_line_format_string = {{app_name}} (pid {{process}}): {{levelname}} - {{message}}
""")
    done = crontabber(f"--admin.conf={ini}")
    assert done.returncode == 0, done.stderr
    datagram, _ = syslog_server.recvfrom(65536)
    text = datagram.decode()
    local3, warning = 19, 4
    assert text.startswith(f"<{local3 * 8 + warning}>crontabber (pid ")
    assert "WARNING - job broken failed: ValueError: broken on purpose" in text


def test_syslog_gets_nothing_below_its_level(tmp_path, syslog_server):
    port = syslog_server.getsockname()[1]
    ini = write_ini(tmp_path, [f"{J}.BrokenJob|1h"])
    done = crontabber(f"--admin.conf={ini}", "--logging.syslog_host=127.0.0.1", f"--logging.syslog_port={port}")
    assert done.returncode == 0  # a failed job is a WARNING; the default syslog level is 40 (ERROR)
    syslog_server.settimeout(0.5)
    with pytest.raises(TimeoutError):
        syslog_server.recvfrom(65536)


@pytest.mark.parametrize("option,message", [
    ("--logging.syslog_facility_string=locl3", "logging.syslog_facility_string = 'locl3' is not a syslog facility"),
    ("--logging.syslog_port=five", "logging.syslog_port = 'five': the port must be a number"),
    ("--logging.syslog_error_logging_level=loud", "logging.syslog_error_logging_level = 'loud': use a number"),
])
def test_bad_logging_options_are_one_line_and_exit_2(tmp_path, option, message):
    done = crontabber("configtest", f"--admin.conf={write_ini(tmp_path, [f'{J}.FooJob|1h'])}", option)
    assert done.returncode == 2
    assert done.stderr == f"crontabber: error: {message}" + done.stderr.split(message, 1)[1]
    assert len(done.stderr.splitlines()) == 1


def test_a_syslog_host_that_does_not_resolve_is_one_warning_and_the_jobs_still_run(tmp_path):
    ini = write_ini(tmp_path, [f"{J}.FooJob|1h"])
    done = crontabber(f"--admin.conf={ini}", "--logging.syslog_host=no-such-host.invalid")
    assert done.returncode == 0
    [line] = done.stderr.splitlines()
    assert "syslog at no-such-host.invalid is unreachable" in line
    listing = crontabber("list", f"--admin.conf={ini}", "--format=json")
    assert json.loads(listing.stdout)[0]["state"] == "ok"
