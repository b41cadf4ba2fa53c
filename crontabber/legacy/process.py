"""Run one command in its own process group, keep the tail of its output, enforce a timeout.

The command starts a new session (``start_new_session``), so its process group
holds everything it starts, and a watcher (``crontabber.supervision``) kills that group
if the runner dies. When the time is up the whole group gets SIGTERM,
then SIGKILL after a short grace; when the command exits on its own, whatever
it left running in its group is terminated the same way, so no job leaves a
grandchild behind to hold our pipes or overlap its next run (systemd's
``KillMode=control-group`` does the same for services).

Output is read as it comes, from both pipes, into one bounded buffer (what the
log row keeps) and one bounded stderr buffer (what a failure message quotes);
only the tails are kept, and the number of bytes cut is counted.
"""

from __future__ import annotations

import errno
import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from crontabber import supervision

TERM_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
STDERR_TAIL = 2048  # bytes of stderr quoted in a failure message


class Tail:
    """The last ``limit`` bytes written to it, and how many bytes were cut before them."""

    def __init__(self, limit: int) -> None:
        self.limit = max(0, limit)
        self.buffer = bytearray()
        self.cut = 0

    def write(self, data: bytes) -> None:
        """Append ``data``; trim the front once the buffer holds twice the limit."""
        self.buffer += data
        if len(self.buffer) > 2 * self.limit:
            self._trim()

    def _trim(self) -> None:
        excess = len(self.buffer) - self.limit
        if excess > 0:
            del self.buffer[:excess]
            self.cut += excess

    def text(self) -> str:
        """The tail as text (undecodable bytes replaced), prefixed by a note of what was cut."""
        self._trim()
        body = bytes(self.buffer).decode("utf-8", errors="replace")
        if self.cut:
            return f"[... {self.cut} bytes cut; the last {len(self.buffer)} bytes follow ...]\n{body}"
        return body


@dataclass
class Completed:
    """How a command ended: exit code (negative: killed by that signal) and its output tails."""

    returncode: int
    output: str
    stderr_tail: str
    timed_out: bool = False


def run(argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None,
        stdin: bytes | None = None, timeout: float | None = None, output_limit: int = 65536) -> Completed:
    """Run ``argv`` (no shell) and wait for it, its output read as it arrives.

    The command runs under a watcher that kills its group if this process dies, and stops
    (raising ``Interrupted``) when the runner's stop signal is raised."""
    _check_executable(argv[0], env, cwd)
    stop = supervision.current_stop()
    watcher = supervision.Watcher(supervision.current_keep())
    try:
        with supervision.forking():  # a forked job must not keep the gate's write end
            proc = subprocess.Popen(
                supervision.gated(argv, stdin is not None), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(env) if env is not None else None,
                cwd=cwd, start_new_session=True, close_fds=True)
            assert proc.stdin is not None
            supervision.own(proc.stdin.fileno())
    except BaseException:
        watcher.release()
        raise
    watcher.guard(proc.pid)
    deadline = time.monotonic() + timeout if timeout else None
    output, errors = Tail(output_limit), Tail(STDERR_TAIL)
    timed_out = stopped = False
    feeder = threading.Thread(target=_feed, args=(proc, supervision.GATE_OPEN + (stdin or b"")),
                              daemon=True)  # a full pipe must not
    feeder.start()  # block us past the deadline: the command may never read its input
    try:
        timed_out, stopped = _pump(proc, output, errors, deadline, stop)
    finally:
        if timed_out or stopped or proc.poll() is None:
            # a job whose lock is gone gets no grace: another runner may start it now
            kill_group(proc.pid, proc, 0 if stop is not None and stop.locks_lost else TERM_GRACE)
        else:
            kill_group(proc.pid, None)  # leftovers of a command that exited on its own
        proc.wait()
        watcher.release()
        feeder.join()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    if stopped and stop is not None:
        raise stop.exception()
    return Completed(proc.returncode, output.text(), errors.text(), timed_out)


def _check_executable(program: str, env: Mapping[str, str] | None, cwd: str | None) -> None:
    """Raise the OSError exec would, before starting anything (the command starts behind a
    gate, where a failed exec would only be an exit code)."""
    if cwd is not None and not os.path.isdir(cwd):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), cwd)
    path = (env if env is not None else os.environ).get("PATH", os.defpath)
    if "/" in program:
        found = program if os.path.isabs(program) or cwd is None else os.path.join(cwd, program)
        if not os.path.exists(found):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
        if os.path.isdir(found) or not os.access(found, os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), program)
    elif shutil.which(program, path=path) is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)


def _feed(proc: subprocess.Popen, data: bytes) -> None:
    """Open the gate and write the command's input; then close its stdin."""
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
        proc.stdin.flush()
    except (BrokenPipeError, OSError):
        pass
    finally:
        supervision.disown(proc.stdin.fileno())
        try:
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass


def _pump(proc: subprocess.Popen, output: Tail, errors: Tail, deadline: float | None,
          stop: supervision.StopSignal | None) -> tuple[bool, bool]:
    """Copy both pipes into the tails until the command exits: (time ran out, stop asked)."""
    selector = selectors.DefaultSelector()
    for pipe, name in ((proc.stdout, "stdout"), (proc.stderr, "stderr")):
        assert pipe is not None
        os.set_blocking(pipe.fileno(), False)
        selector.register(pipe, selectors.EVENT_READ, name)
    try:
        while selector.get_map():
            if proc.poll() is not None:
                _drain(selector, output, errors)  # what the pipes hold now, then stop
                return False, False
            if stop is not None and stop.requested:
                return False, True
            wait = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
            if wait <= 0:
                return True, False
            for key, _ in selector.select(wait):
                if not _read(key, output, errors):
                    selector.unregister(key.fileobj)
        # Both pipes closed: wait for the exit, still bounded by the deadline and the stop signal.
        while True:
            if stop is not None and stop.requested:
                return False, True
            remaining = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
            if remaining <= 0:
                return True, False
            try:
                proc.wait(remaining)
                return False, False
            except subprocess.TimeoutExpired:
                continue
    finally:
        selector.close()


def _read(key: selectors.SelectorKey, output: Tail, errors: Tail) -> bool:
    """Copy one chunk from the pipe of ``key``; False at end of file."""
    try:
        data = os.read(key.fd, 65536)
    except BlockingIOError:
        return True
    if not data:
        return False
    output.write(data)
    if key.data == "stderr":
        errors.write(data)
    return True


def _drain(selector: selectors.BaseSelector, output: Tail, errors: Tail) -> None:
    """Read what the pipes hold now, without waiting for writers that are still alive."""
    for key in list(selector.get_map().values()):
        for _ in range(256):  # a leftover that writes without pause must not keep us here
            try:
                data = os.read(key.fd, 65536)
            except BlockingIOError:
                break
            if not data:
                break
            output.write(data)
            if key.data == "stderr":
                errors.write(data)


def kill_group(pgid: int, proc: subprocess.Popen | None, grace: float = TERM_GRACE) -> None:
    """SIGTERM the process group, SIGKILL it after the grace, and wait until no member runs."""
    if not _group_running(pgid):
        return
    _signal_group(pgid, signal.SIGTERM)
    end = time.monotonic() + grace
    while time.monotonic() < end and _group_running(pgid, proc):
        time.sleep(0.02)
    _signal_group(pgid, signal.SIGKILL)
    if proc is not None:
        proc.wait()
    end = time.monotonic() + 5.0
    while time.monotonic() < end and _group_running(pgid, proc):
        time.sleep(0.01)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _group_running(pgid: int, proc: subprocess.Popen | None = None) -> bool:
    """Whether any process of group ``pgid`` is alive (zombies do not count)."""
    if proc is not None:
        proc.poll()  # reap our own child, so it does not count as a member
    try:
        os.killpg(pgid, 0)  # the cheap answer when the group is empty (the usual case)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        entries = os.listdir("/proc")
    except OSError:  # no /proc: a group that exists counts as running
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 2 and fields[2] == str(pgid).encode() and fields[0] not in (b"Z", b"X"):
            return True
    return False
