"""Real runner processes for the stop and chaos tests, and the processes their jobs leave.

Every runner a test starts carries ``CRONTABBER_TEST_TAG`` in its environment, which every
process its jobs start inherits: ``tagged(tag)`` finds them all by reading /proc, so "no
job process outlives its runner" is checked on the machine itself, grandchildren included.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TAG = "CRONTABBER_TEST_TAG"


def start(ini: Path, *args: str, tag: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``python -m crontabber --admin.conf=INI ARGS`` tagged with ``tag`` (stdout/stderr piped)."""
    environ = dict(os.environ, PYTHONPATH=str(REPO), **{TAG: tag}, **(env or {}))
    return subprocess.Popen([sys.executable, "-m", "crontabber", f"--admin.conf={ini}", *args],
                            cwd=str(REPO), env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def tagged(tags: Iterable[str], exclude: Iterable[int] = ()) -> dict[int, str]:
    """Live (not zombie) processes whose environment holds one of ``tags``: pid -> command."""
    wanted = {f"{TAG}={tag}".encode() for tag in tags}
    skip = set(exclude)
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in skip:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
            if stat[stat.rfind(b")") + 2:].split()[0] in (b"Z", b"X"):
                continue
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = set(handle.read().split(b"\0"))
            if environ & wanted:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    found[int(entry)] = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
    return found


def wait_until(probe, limit: float, step: float = 0.02):
    """Poll ``probe`` until it returns something truthy; that value, or None after ``limit`` s."""
    deadline = time.monotonic() + limit
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value or None
        time.sleep(step)


def finish(process: subprocess.Popen, limit: float = 60) -> tuple[int, str, str]:
    """Wait (bounded) for a runner; its exit code, stdout and stderr. Killed if it overruns."""
    try:
        out, err = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"runner {process.pid} still running after {limit} s: {err}") from None
    return process.returncode, out, err


def kill_tagged(tags: Iterable[str]) -> None:
    """Clean-up after a failed test: SIGKILL whatever still carries one of ``tags``."""
    for pid in tagged(tags):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
