"""Read a user or system crontab into job lines, variables and one message per problem line.

Follows Debian cron (crontab(5)): blank lines and lines starting with ``#`` are
ignored; ``NAME = value`` sets a variable for the lines below it (a value wholly
in quotes loses them); a job is five time fields (numbers, ``*``, ranges, lists,
steps, and month/day names) or an ``@name``, then, in a system crontab, a user,
then the command. In the command an unescaped ``%`` ends the command and starts
its standard input (each further ``%`` is a newline), and ``\\%`` is a ``%``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from crontabber.schedule import CronSchedule, ScheduleError

_ENV_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_ITEM = r"(?:\*|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:/\d+)?"
_FIELD = re.compile(rf"^{_ITEM}(?:,{_ITEM})*$")
_NAMES = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", "jan", "feb", "mar", "apr", "may", "jun",
          "jul", "aug", "sep", "oct", "nov", "dec"}
_AT_NAMES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_BLANKS = re.compile(r"[ \t]+")  # cron separates fields with spaces and tabs only
SPECIAL_VARIABLES = ("CRON_TZ", "MAILTO", "MAILFROM", "CONTENT_TYPE", "CONTENT_TRANSFER_ENCODING")
_FIELD_NAMES = ("minute", "hour", "day of month", "month", "day of week")


@dataclass
class Message:
    """Something said on stderr: ``line`` is the crontab line number (None: the whole file)."""

    line: int | None
    text: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.text}" if self.line else self.text


@dataclass
class CronLine:
    """One job line: its schedule, user column, command, standard input and the variables in effect."""

    number: int
    text: str
    schedule: str
    command: str
    stdin: str | None = None
    user: str | None = None
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Crontab:
    """A parsed crontab."""

    lines: list[CronLine] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    specials: list[tuple[int, str, str]] = field(default_factory=list)  # (line, name, value): CRON_TZ, MAILTO...


def split_percent(command: str) -> tuple[str, str | None]:
    """cron's ``%`` rule: (command, standard input or None), with ``\\%`` made ``%``."""
    parts: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(command):
        char = command[index]
        if char == "\\" and command[index + 1:index + 2] == "%":
            current.append("%")
            index += 2
            continue
        if char == "%":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    if len(parts) == 1:
        return parts[0], None
    return parts[0], "\n".join(parts[1:]) + "\n"


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def check_fields(fields: list[str]) -> str | None:
    """Why five cron fields are not valid for Debian cron, or None when they are."""
    for name, text in zip(_FIELD_NAMES, fields):
        words = re.findall(r"[A-Za-z]+", text)
        if not _FIELD.match(text) or any(word.lower() not in _NAMES for word in words):
            return (f"the {name} field {text!r} is not valid (numbers, *, ranges a-b, lists a,b, "
                    "steps */n, and month or day names like jan or mon-fri)")
    try:
        CronSchedule.parse(" ".join(fields), dt.timezone.utc)
    except ScheduleError as exc:
        return str(exc)
    return None


def parse_crontab(text: str, system: bool) -> Crontab:
    """Lines of a crontab -> job lines and messages (one per line that cannot be used)."""
    result = Crontab()
    env: dict[str, str] = {}
    for number, raw in enumerate(text.split("\n"), start=1):  # cron splits on \n only
        line = raw.strip(" \t\r")
        if not line or line.startswith("#"):
            continue
        if "\x00" in line:
            result.messages.append(Message(number, "contains a NUL byte; skipped"))
            continue
        if not re.match(r"^[0-9*@]", line):
            match = _ENV_LINE.match(line)
            if match is None:
                result.messages.append(Message(number, f"{_short(line)} is neither a job (five time fields "
                                               "and a command, or @daily etc. and a command) nor a "
                                               "NAME=value setting; skipped"))
                continue
            name, value = match.group(1), _unquote(match.group(2))
            if name in SPECIAL_VARIABLES:
                result.specials.append((number, name, value))
            else:
                env[name] = value
            continue
        job = _job_line(number, raw, line, system, dict(env), result.messages)
        if job is not None:
            result.lines.append(job)
    return result


def _job_line(number: int, raw: str, line: str, system: bool, env: dict[str, str],
              messages: list[Message]) -> CronLine | None:
    words = _BLANKS.split(line, maxsplit=1)
    if words[0].startswith("@"):
        name = words[0].lower()
        if name == "@reboot":
            messages.append(Message(number, "@reboot cannot be honoured: crontabber runs on a "
                                    "schedule, not at boot; start it from a systemd unit or "
                                    "@reboot line of its own; skipped"))
            return None
        if name not in _AT_NAMES:
            messages.append(Message(number, f"unknown schedule {words[0]!r}: use five time fields "
                                    f"or one of {', '.join(_AT_NAMES)}; skipped"))
            return None
        schedule, rest = name, words[1] if len(words) > 1 else ""
    else:
        parts = _BLANKS.split(line, maxsplit=5)
        if len(parts) < 6:
            messages.append(Message(number, f"{_short(line)} has fewer than five time fields and a "
                                    "command; skipped"))
            return None
        problem = check_fields(parts[:5])
        if problem is not None:
            messages.append(Message(number, f"{problem}; skipped"))
            return None
        schedule, rest = " ".join(parts[:5]), parts[5]
    user = None
    if system:
        user_and_command = _BLANKS.split(rest.strip(" \t"), maxsplit=1)
        if len(user_and_command) < 2:
            messages.append(Message(number, "a system crontab line needs a user and a command; skipped"))
            return None
        user, rest = user_and_command
    command, stdin = split_percent(rest.strip(" \t"))
    if not command.strip():
        messages.append(Message(number, "has no command; skipped"))
        return None
    if stdin is not None:
        messages.append(Message(number, f"an unescaped % ends the command, as cron reads it: the command is "
                                f"{command.strip()!r} and the text after the % is its standard input "
                                "(key stdin); write \\% where a literal % was meant"))
    return CronLine(number, line, schedule, command.strip(), stdin, user, env)


def _short(line: str) -> str:
    return repr(line if len(line) <= 60 else line[:57] + "...")
