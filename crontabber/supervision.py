"""A job's processes live and die with the runner that started them, and with its lock.

Every job that runs in a process of its own (a shell job, a Python job with a ``timeout``)
gets a process group and a *watcher*: a tiny ``/bin/sh`` outside the group that holds the
read end of a pipe (the lifeline) whose only writer is the runner, plus the file
descriptors that keep the job's lock alive (the ``flock`` file, the PostgreSQL session's
socket). When the runner dies, by any signal, the kernel closes the lifeline; the watcher
sends SIGTERM to the whole group, SIGKILL after a grace, and only then exits, which
releases the lock: the lock never goes before the job does. The job itself waits at a
gate until its watcher knows its group, so no instant exists in which it runs unwatched.

A forked Python job inherits every descriptor of the runner; it drops the ones the runner
owns (``own``) by pointing them at /dev/null, so neither the database session nor another
job's lock or lifeline lives on in it.

Stopping on purpose (SIGTERM, SIGINT, a lost ledger session) goes through a ``StopSignal``:
the loops that wait for job processes look at it and stop their job, a Python job running in
the runner's main thread is interrupted where it stands (``interruptible``), and
``Interrupted`` carries the reason up to the runner, which records the run as
``interrupted``. Signal handlers are installed by the command line only
(``install_signal_handlers``), never by the library.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from contextvars import ContextVar

WATCH_GRACE_STEPS = 20  # the watcher's SIGTERM grace, in tenths of a second
WATCHER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sh", "watcher.sh")
# A shell job's gate: its first stdin line ("go") arrives once the watcher guards its group;
# ``read`` takes no byte past the newline, so the rest of stdin is the command's.
_GATE = r"""read -r word && [ "$word" = go ] || exit 125
if [ "$1" = closed ]; then shift; exec "$@" </dev/null; fi
shift
exec "$@"
"""
GATE_OPEN = b"go\n"


class Interrupted(BaseException):
    """A run stopped on purpose: by SIGTERM or SIGINT, or because the ledger lost the job's lock.

    A BaseException, so a job's ``except Exception`` does not swallow it."""

    def __init__(self, reason: str, exit_code: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exit_code = exit_code
        self.jobs: list[str] = []  # the runs recorded as interrupted

    def __str__(self) -> str:
        return self.reason

    def summary(self) -> str:
        """The command line's last line: why, and which runs were interrupted."""
        if not self.jobs:
            return self.reason
        return f"{self.reason}; interrupted (they run again at the next tick): {', '.join(self.jobs)}"


class StopSignal:
    """A request to stop every running job of a runner (thread-safe; the first reason wins)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self.reason = ""
        self.exit_code = 0
        self.interrupt_main = False  # set when the command line's handlers serve this signal

    def request(self, reason: str, exit_code: int) -> bool:
        """Ask for a stop; False when one was already asked for."""
        with self._lock:
            if self._event.is_set():
                return False
            self.reason, self.exit_code = reason, exit_code
            self._event.set()
            return True

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    @property
    def locks_lost(self) -> bool:
        """The stop was asked because the job locks are gone (exit 3): stop without a grace."""
        return self._event.is_set() and self.exit_code == 3

    def exception(self) -> Interrupted:
        return Interrupted(self.reason, self.exit_code)

    def check(self) -> None:
        """Raise ``Interrupted`` when a stop was asked for."""
        if self._event.is_set():
            raise self.exception()

    def stop_main_thread(self) -> None:
        """Raise ``Interrupted`` in the main thread too, when the command line runs it (a job
        running there in-process cannot otherwise be stopped)."""
        if self.interrupt_main:
            _thread.interrupt_main(signal.SIGTERM)


# -- the job being run in this thread: its stop signal and what keeps its lock alive --------
_stop: ContextVar[StopSignal | None] = ContextVar("crontabber_stop", default=None)
_keep: ContextVar[tuple[int, ...]] = ContextVar("crontabber_keep", default=())


@contextlib.contextmanager
def job_context(stop: StopSignal | None, keep_fds: Sequence[int]) -> Iterator[None]:
    """Within: processes started for the job watch ``stop`` and their watcher holds ``keep_fds``."""
    stop_token, keep_token = _stop.set(stop), _keep.set(tuple(keep_fds))
    try:
        yield
    finally:
        _stop.reset(stop_token)
        _keep.reset(keep_token)


def current_stop() -> StopSignal | None:
    return _stop.get()


def current_keep() -> tuple[int, ...]:
    return _keep.get()


# -- where a signal handler may raise: only inside a job's own code ------------------------
_local = threading.local()
_installed: StopSignal | None = None


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within (a Python job's own code, run in this process), SIGTERM/SIGINT raise
    ``Interrupted`` at once; elsewhere they only raise the stop signal, which the runner and
    the loops that wait for job processes look at, so a ledger write and its bookkeeping are
    never cut in half, nor is an interpreter callback (an at-fork hook) that cannot raise."""
    if _installed is not None and threading.current_thread() is threading.main_thread():
        _installed.check()
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        yield
    finally:
        _local.depth -= 1


def install_signal_handlers() -> StopSignal:
    """SIGTERM and SIGINT stop the running jobs (the command line calls this, nothing else)."""
    global _installed
    stop = StopSignal()
    stop.interrupt_main = True

    def handler(signum: int, frame: object) -> None:
        stop.request(f"stopped by {signal.Signals(signum).name}", 128 + signum)
        if getattr(_local, "depth", 0):
            raise stop.exception()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    _installed = stop
    return stop


def installed_stop() -> StopSignal | None:
    """The stop signal the command line's handlers serve, if they are installed."""
    return _installed


# -- descriptors the runner owns, which a forked job must not keep -------------------------
_owned: set[int] = set()
_owned_lock = threading.RLock()


def own(fd: int) -> None:
    """``fd`` belongs to the runner (its database session, a lock, a lifeline)."""
    with _owned_lock:
        _owned.add(fd)


def disown(fd: int) -> None:
    """Forget ``fd`` (call it before closing the descriptor: its number will be reused)."""
    with _owned_lock:
        _owned.discard(fd)


@contextlib.contextmanager
def forking() -> Iterator[None]:
    """Hold while forking, so the child's copy of the owned set matches its descriptors."""
    with _owned_lock:
        yield


def drop_owned() -> None:
    """In a forked child: point every owned descriptor at /dev/null, saying nothing on them
    (closing a database connection would end the runner's session for the runner too)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in _owned:
        with contextlib.suppress(OSError):
            os.dup2(null, fd, inheritable=False)
    os.close(null)
    _owned.clear()


# -- the watcher and the gate ------------------------------------------------------------
_watching = 0  # watchers not yet released: jobs running in processes of their own
_watching_lock = threading.Lock()


def jobs_in_processes() -> int:
    """How many jobs of this process run in processes of their own right now."""
    return _watching


class Watcher:
    """A ``/bin/sh`` that kills a job's process group if the runner dies (see the module doc)."""

    def __init__(self, keep_fds: Sequence[int] = ()) -> None:
        import subprocess  # only a tick that runs a job in a process of its own needs it

        global _watching
        with _watching_lock:
            _watching += 1
        self._guarded = False
        with forking():
            read, self._write = os.pipe()
            own(self._write)
        try:
            self._proc = subprocess.Popen(
                ["/bin/sh", WATCHER_SCRIPT, str(WATCH_GRACE_STEPS)],
                stdin=read, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=tuple(keep_fds), start_new_session=True)
        except BaseException:
            self._close()
            self._count_out()
            raise
        finally:
            os.close(read)

    def guard(self, pgid: int) -> None:
        """From now on the runner's death kills process group ``pgid``."""
        os.write(self._write, f"{pgid}\n".encode())
        self._guarded = True

    def release(self) -> None:
        """The job is over (its group killed or empty): let the watcher go, and wait for it."""
        if self._write is None:
            return
        with contextlib.suppress(OSError):
            os.write(self._write, b"done\n" if self._guarded else b"none\n")
        self._close()
        self._count_out()
        try:
            self._proc.wait(timeout=5)
        except Exception:  # subprocess.TimeoutExpired: it should have gone at once
            self._proc.kill()
            self._proc.wait()

    @staticmethod
    def _count_out() -> None:
        global _watching
        with _watching_lock:
            _watching -= 1

    def _close(self) -> None:
        if self._write is not None:
            disown(self._write)
            os.close(self._write)
            self._write = None


def gated(argv: Sequence[str], has_stdin: bool) -> list[str]:
    """``argv`` behind a gate: it starts once ``GATE_OPEN`` is written to its stdin (the
    runner writes it when the watcher guards the group), and never if the runner dies first."""
    return ["/bin/sh", "-c", _GATE, "crontabber-gate", "open" if has_stdin else "closed", *argv]


class Gate:
    """A forked job's gate: a pipe it waits on until its watcher guards it."""

    def __init__(self) -> None:
        with forking():
            self.read_fd, self._write = os.pipe()
            own(self._write)

    def wait(self) -> bool:
        """In the job's process: True once the gate opens, False if the runner died first."""
        data = os.read(self.read_fd, len(GATE_OPEN))
        os.close(self.read_fd)
        return data == GATE_OPEN

    def open(self) -> None:
        """Let the job start (and drop the runner's copy of the read end)."""
        with contextlib.suppress(OSError):
            os.write(self._write, GATE_OPEN)
        self.close()

    def close(self) -> None:
        if self.read_fd is not None:
            os.close(self.read_fd)
            self.read_fd = None
        if self._write is not None:
            disown(self._write)
            os.close(self._write)
            self._write = None
