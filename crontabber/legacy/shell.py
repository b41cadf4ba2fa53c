"""Shell-command jobs declared in config alone: ``job:<app_name>|<schedule>`` plus ``[[job-<app_name>]]``.

Keys of the section (all optional but ``command``):

- ``command``: the argv, split like a shell word list (``shlex``) and run without
  a shell; ``shell = true`` runs it with ``/bin/sh -c`` instead (pipes, ``&&``...).
  Write it in triple quotes (``command = '''...'''``) when it holds a comma, a
  ``#`` or quotes: the ini reader would otherwise make a list of it or cut it.
- ``env``: ``KEY=value`` assignments added to the runner's environment, one per
  line, or several on a line separated by ``,`` where the next one starts with
  ``KEY=`` (so ``A=1, B=2`` is two and ``GREETING=hello, world`` is one). A value
  wholly in single or double quotes loses them (as in a crontab); nothing is expanded.
- ``cwd``: the working directory (``~`` is expanded).
- ``nice``: a niceness increment, -20 to 19 (run through ``nice -n``).
- ``ionice``: ``idle``, ``best-effort[:0-7]``, ``realtime[:0-7]`` or the class
  number ``1``-``3`` with an optional ``:level`` (run through ``ionice``).
- ``stdin``: text written to the command's standard input (a crontab's ``%`` lines);
  a newline right after the opening ``'''`` is dropped (as in TOML), so the first
  line can start on its own line and keep its trailing blanks.
- ``rc_file``: a shell file sourced first (``. FILE``), as ``. FILE && command`` in
  a crontab did: the command then runs with what the file exported (with
  ``shell = true`` the command runs in that same shell, so unexported variables
  are seen too).
- ``output_limit``: how much of stdout+stderr the log row keeps (the tail), in
  bytes or with ``k``/``m``: ``64k`` by default.
- ``timeout`` (a per-job key): the whole process group is killed when it runs out,
  and the run is recorded as ``timed_out``.

Exit code 0 is success; anything else fails with the code and the tail of stderr.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crontabber.base import BaseCronApp
from crontabber.errors import ConfigError
from crontabber.execution import JobTimeout
from crontabber.legacy import process

DEFAULT_OUTPUT_LIMIT = 64 * 1024
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_SPLIT = re.compile(r",\s*(?=[A-Za-z_][A-Za-z0-9_]*=)")
_QUOTING = re.compile(r"[\\'\"]")  # what shlex.split treats specially in POSIX mode
_SHLEX_BLANKS = re.compile(r"[ \t\r\n]+")  # shlex's whitespace (str.split would also cut at U+00A0)
_OPTIONAL_KEYS = ("shell", "cwd", "stdin", "rc_file", "env", "nice", "ionice", "output_limit")
_SIZE = re.compile(r"^(\d+)\s*([km]?)i?b?$", re.IGNORECASE)
_IONICE_CLASSES = {"realtime": "1", "best-effort": "2", "besteffort": "2", "idle": "3",
                   "1": "1", "2": "2", "3": "3"}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


class ShellCommandFailed(Exception):
    """The command exited with a non-zero code (or could not be started)."""


class ShellTimeout(JobTimeout):
    """The command ran past the job's timeout; its whole process group was killed."""


@dataclass(frozen=True)
class ShellSpec:
    """A shell job's section, checked: what to run and how."""

    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    nice: int | None = None
    ionice: tuple[str, ...] = ()
    stdin: str | None = None
    rc_file: str | None = None
    output_limit: int = DEFAULT_OUTPUT_LIMIT

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> ShellSpec:
        """Read a ``[[job-...]]`` section; ValueError says which key is wrong and how."""
        command = _scalar(section, "command")
        if not command.strip():
            raise ValueError("command is empty")
        if all(section.get(key) in (None, "") for key in _OPTIONAL_KEYS):  # the usual case, 5x cheaper
            return cls(argv=_words(command))
        argv = ("/bin/sh", "-c", command) if parse_bool(_scalar(section, "shell"), "shell") else _words(command)
        cwd = _scalar(section, "cwd").strip()
        stdin = _scalar(section, "stdin")
        stdin = stdin[1:] if stdin.startswith("\n") else stdin
        rc_file = _scalar(section, "rc_file").strip()
        if rc_file:
            argv = _sourcing(rc_file, argv)
        return cls(argv=argv, rc_file=rc_file or None, env=parse_env(section.get("env")),
                   cwd=os.path.expanduser(cwd) if cwd else None,
                   nice=parse_nice(_scalar(section, "nice")), ionice=parse_ionice(_scalar(section, "ionice")),
                   stdin=stdin or None, output_limit=parse_size(_scalar(section, "output_limit")))

    def full_argv(self) -> list[str]:
        """argv behind the ``ionice`` and ``nice`` wrappers the settings ask for."""
        argv = list(self.argv)
        if self.nice is not None:
            argv = ["nice", "-n", str(self.nice), *argv]
        if self.ionice:
            argv = ["ionice", *self.ionice, *argv]
        return argv


def _words(command: str) -> tuple[str, ...]:
    """``command`` split like a shell word list (shlex), without a shell."""
    if not _QUOTING.search(command):  # nothing for shlex to interpret (and 30x cheaper)
        return tuple(word for word in _SHLEX_BLANKS.split(command) if word)
    try:
        return tuple(shlex.split(command))
    except ValueError as exc:
        raise ValueError(f"command {command!r} cannot be split into words ({exc}); "
                         "fix the quoting, or set shell = true") from None


def _sourcing(rc_file: str, argv: tuple[str, ...]) -> tuple[str, ...]:
    """argv that sources ``rc_file`` in /bin/sh and then runs ``argv`` (evaluated there for sh -c)."""
    if argv[:2] == ("/bin/sh", "-c"):
        return ("/bin/sh", "-c", '. "$1" && eval "$2"', "sh", rc_file, argv[2])
    return ("/bin/sh", "-c", '. "$1" && shift && exec "$@"', "sh", rc_file, *argv)


def _scalar(section: Mapping[str, Any], key: str) -> str:
    value = section.get(key)
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        raise ValueError(f"{key} was read as a list because of an unquoted comma; write it in "
                         f"triple quotes: {key} = '''...'''")
    return str(value)


def parse_bool(text: str, key: str) -> bool:
    """``true``/``yes``/``on``/``1`` or ``false``/``no``/``off``/``0``/empty."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{key} = {text!r}: use true or false")


def parse_env(value: Any) -> dict[str, str]:
    """The ``env`` key -> {name: value}; see the module docstring for the syntax."""
    if value is None or value == "":
        return {}
    lines = list(value) if isinstance(value, (list, tuple)) else str(value).splitlines()
    env: dict[str, str] = {}
    for line in lines:
        line = str(line).strip()
        if not line or line.startswith("#"):
            continue
        for item in _ENV_SPLIT.split(line):
            name, equals, text = item.strip().partition("=")
            name = name.strip()
            if not equals or not _ENV_NAME.match(name):
                raise ValueError(f"env entry {item.strip()!r} is not NAME=value (NAME: letters, "
                                 "digits and _, not starting with a digit)")
            text = text.strip()
            if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
                text = text[1:-1]
            env[name] = text
    return env


def parse_nice(text: str) -> int | None:
    """``nice`` -> an increment from -20 to 19, or None when empty."""
    if not text.strip():
        return None
    try:
        number = int(text.strip())
    except ValueError:
        raise ValueError(f"nice = {text!r}: use a whole number from -20 to 19") from None
    if not -20 <= number <= 19:
        raise ValueError(f"nice = {text!r}: use a whole number from -20 to 19")
    return number


def parse_ionice(text: str) -> tuple[str, ...]:
    """``ionice`` -> the ``ionice`` options (``-c 2 -n 7``), or () when empty."""
    text = text.strip().lower()
    if not text:
        return ()
    name, _, level = text.partition(":")
    klass = _IONICE_CLASSES.get(name.strip())
    if klass is None or (level and not (level.strip().isdigit() and 0 <= int(level) <= 7)):
        raise ValueError(f"ionice = {text!r}: use idle, best-effort[:0-7] or realtime[:0-7] "
                         "(or the class number 1-3)")
    if level and klass == "3":
        raise ValueError(f"ionice = {text!r}: the idle class takes no level")
    return ("-c", klass, "-n", level.strip()) if level else ("-c", klass)


def parse_size(text: str) -> int:
    """``output_limit`` -> bytes: ``65536``, ``64k``, ``1m``; empty means 64 KiB."""
    if not text.strip():
        return DEFAULT_OUTPUT_LIMIT
    match = _SIZE.match(text.strip())
    if not match:
        raise ValueError(f"output_limit = {text!r}: use bytes or a number with k or m (64k)")
    return int(match.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[match.group(2).lower()]


class ShellJob(BaseCronApp):
    """Runs the ``command`` of its ``[[job-<app_name>]]`` section (see the module docstring)."""

    crontabber_kind = "shell"

    @classmethod
    def check_section(cls, section: Mapping[str, Any], where: str, app_name: str | None = None) -> None:
        """Raise ConfigError when the section cannot be run (called when the config is loaded)."""
        try:
            ShellSpec.from_section(section)
        except ValueError as exc:
            raise ConfigError(f"{where}: job {app_name or cls.app_name!r}: {exc}") from None

    @classmethod
    def describe_config(cls, section: Mapping[str, Any], settings: Any) -> list[tuple[str, str]]:
        """(key, value) lines for ``configtest --verbose`` (env shows names only: values may be secret)."""
        spec = ShellSpec.from_section(section)
        lines = [("argv", shlex.join(spec.full_argv())), ("cwd", spec.cwd or "(the runner's)"),
                 ("env", ", ".join(spec.env) or "-"), ("output_limit", f"{spec.output_limit} bytes")]
        if spec.stdin is not None:
            lines.append(("stdin", f"{len(spec.stdin.encode())} bytes"))
        return lines

    def run(self) -> None:
        """Run the command once; raise on a non-zero exit or a timeout."""
        spec = ShellSpec.from_section(self.config)
        timeout = getattr(self.crontabber_settings, "timeout", None)
        argv = spec.full_argv()
        try:
            done = process.run(argv, env={**os.environ, **spec.env}, cwd=spec.cwd,
                               stdin=spec.stdin.encode() if spec.stdin is not None else None,
                               timeout=timeout, output_limit=spec.output_limit)
        except OSError as exc:
            raise ShellCommandFailed(_start_failure(argv[0], spec.cwd, exc)) from None
        self.crontabber_output = done.output
        if done.timed_out:
            raise ShellTimeout(f"killed after the {timeout:g} s timeout (the whole process group)"
                               + _stderr_note(done.stderr_tail))
        if done.returncode != 0:
            raise ShellCommandFailed(_exit_text(done.returncode) + _stderr_note(done.stderr_tail))


def _start_failure(program: str, cwd: str | None, exc: OSError) -> str:
    """Why the command could not start, naming the missing working directory when that is it."""
    if cwd and not os.path.isdir(cwd):
        if os.path.exists(cwd):
            return f"working directory {cwd!r} is not a directory: change cwd in the job's section"
        return f"working directory {cwd!r} does not exist: create it or change cwd in the job's section"
    where = f" in {cwd!r}" if cwd else ""
    return f"cannot start {program!r}{where}: {exc.strerror or exc}"


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exit code {code}"


def _stderr_note(tail: str) -> str:
    tail = tail.strip()
    return f"; stderr tail:\n{tail}" if tail else "; no stderr"
