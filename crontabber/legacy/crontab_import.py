"""``crontabber import-crontab FILE``: a crontab becomes a complete crontabber.ini.

Each job line becomes ``job:<app_name>|<schedule>`` and a ``[[job-<app_name>]]``
section (``crontab_command`` turns the usual wrappers into settings). The ini
sets ``crontabber.timezone`` to the host's zone, because cron reads local time.
What cannot be honoured (``@reboot``, ``CRON_TZ``, ``MAILTO``, a system
crontab's user column) and every unusable line is reported on stderr, one
message per line, with its line number. The ini is read back before it is
written: a job whose section would not load exactly as intended is left out
and reported, so no quoting accident can change what a command runs.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from crontabber.legacy.crontab_command import Converted, convert
from crontabber.legacy.crontab_parse import CronLine, Crontab, Message, parse_crontab
from crontabber.legacy.shell import ShellSpec, parse_env
from crontabber.schedule import ScheduleError, parse_zone

_BARE = re.compile(r"^[A-Za-z0-9_./:@+~-](?:[A-Za-z0-9_./:@+~ -]*[A-Za-z0-9_./:@+~-])?$")
_INTERPOLATION = re.compile(r"%\([^)]*\)s")
_BLANKS = re.compile(r"[ \t]+")  # cron's field separators
_SYSTEM_HEADER = re.compile(r"^#\s*m\s+h\s+dom\s+mon\s+dow\s+user\s+command", re.MULTILINE)
_MAX_NAME = 60


class Unrepresentable(ValueError):
    """A value the ini format cannot carry unchanged."""


@dataclass
class Job:
    """One converted crontab line."""

    line: CronLine
    app_name: str
    section: dict[str, str]
    notes: list[str] = field(default_factory=list)


def host_zone() -> str:
    """The host's IANA zone, as cron sees it (``/etc/timezone``, ``/etc/localtime``), else UTC."""
    try:
        name = Path("/etc/timezone").read_text().strip()
        parse_zone(name)
        return name
    except (OSError, ScheduleError):
        pass
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            name = target.split("zoneinfo/", 1)[1]
            parse_zone(name)
            return name
    except (OSError, ScheduleError):
        pass
    return "UTC"


def looks_like_system_crontab(path: Path | None, text: str) -> bool:
    """/etc/crontab, /etc/cron.d/*, or a file with /etc/crontab's ``m h dom mon dow user command`` header."""
    resolved = Path(os.path.abspath(path)) if path is not None else None
    return (resolved == Path("/etc/crontab") or (resolved is not None and resolved.parent.name == "cron.d")
            or bool(_SYSTEM_HEADER.search(text)))


def is_local_user(name: str) -> bool:
    """True when ``name`` is a user account on this host."""
    import pwd

    try:
        pwd.getpwnam(name)
    except (KeyError, ValueError):
        return False
    return True


def user_column(text: str, forced: bool | None, looks_system: bool) -> tuple[bool, str]:
    """Whether job lines carry a user after the time fields, and the sentence that says what was assumed.

    ``forced`` is ``--system`` (True) or ``--no-system`` (False); otherwise the sixth field is a
    user only when it is one on every job line and a user on this host: a system crontab copied
    without its header must not turn ``root`` into a job's command (and name)."""
    if forced is not None:
        flag = "--system" if forced else "--no-system"
        kind = "a system crontab: the sixth field of each job line is its user" if forced else \
            "a user crontab: the command starts after the five time fields"
        return forced, f"read as {kind} ({flag})"
    lines = parse_crontab(text, system=False).lines
    firsts = [(line.number, _BLANKS.split(line.command, maxsplit=1)) for line in lines]
    users = [(number, words[0]) for number, words in firsts if len(words) == 2 and is_local_user(words[0])]
    if lines and len(users) == len(lines):
        names = ", ".join(sorted({name for _, name in users}))
        return True, (f"read as a system crontab: the sixth field of every job line is a user of this host "
                      f"({names}); --no-system reads the sixth field as the command")
    reason = "a user crontab: the command starts after the five time fields"
    if users:
        shown = ", ".join(f"line {number} ({name})" for number, name in users[:5])
        reason += (f"; some lines start with a user of this host: {shown}; if the file is a system crontab, "
                   "pass --system")
    elif looks_system:
        reason += "; it looks like a system crontab: if its sixth field is a user, pass --system"
    else:
        reason += " (--system reads a user column)"
    return False, f"read as {reason}"


def ini_value(text: str) -> str:
    """``text`` written so configobj reads it back unchanged; Unrepresentable when it cannot be."""
    if _INTERPOLATION.search(text):
        raise Unrepresentable("it contains '%(name)s', which the ini reader would substitute")
    if _BARE.match(text):
        return text
    for marks in ("'''", '"""'):
        if marks not in text and not text.endswith(marks[0]):
            return f"{marks}{text}{marks}"
    raise Unrepresentable("it contains both ''' and \"\"\", which the ini format cannot quote")


def _printable(text: str) -> str:
    """``text`` for an ini comment: tabs stay, other control characters become ``?``."""
    return "".join(char if char.isprintable() or char == "\t" else "?" for char in text)


def app_name_for(converted: Converted, taken: set[str]) -> str:
    """A unique app name from the command's program (``backup.sh`` -> ``backup``)."""
    base = unicodedata.normalize("NFKD", converted.program).encode("ascii", "ignore").decode()
    base = re.sub(r"\.(sh|bash|py|pl|php|rb|js)$", "", base.lower())
    base = re.sub(r"[^a-z0-9_-]+", "-", base).strip("-_")[:_MAX_NAME] or "job"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}-{number}", number + 1
    taken.add(name)
    return name


def _env_text(env: dict[str, str]) -> str:
    lines = []
    for name, value in env.items():
        quoted = value != value.strip() or (len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"")
        lines.append(f'{name}="{value}"' if quoted else f"{name}={value}")
    return "\n".join(lines)


def _procedure_section(converted: Converted, env: dict[str, str]) -> dict[str, str] | None:
    """``procedure`` and ``database_url`` from psql's flags and PG* variables, or None to keep psql."""
    if converted.rc_file or "PGPASSWORD" in env or "PGSERVICE" in env or converted.procedure is None:
        return None  # the connection depends on what we cannot see (or would put a password in the ini)
    value = {key: converted.psql.get(key) or env.get(variable, "")
             for key, variable in (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"),
                                   ("dbname", "PGDATABASE"))}
    if "=" in value["dbname"] or (value["port"] and not value["port"].isdigit()):
        return None
    host = value["host"]
    url = "postgresql://" + (quote(value["user"], safe="") + "@" if value["user"] else "")
    url += "" if host.startswith("/") else quote(host, safe="")
    url += f":{value['port']}" if value["port"] else ""
    url += "/" + quote(value["dbname"], safe="")
    url += f"?host={quote(host, safe='')}" if host.startswith("/") else ""
    section = {"procedure": converted.procedure, "database_url": url}
    if converted.timeout is not None:
        section["timeout"] = converted.timeout
    return section


def _section(line: CronLine, converted: Converted) -> dict[str, str]:
    procedure = _procedure_section(converted, {**line.env, **converted.env})
    if procedure is not None:
        return procedure
    if converted.procedure is not None:
        converted.notes.pop()  # the psql call stays a shell command
        converted.program = "psql"
    section: dict[str, str] = {"command": converted.command}
    if converted.shell:
        section["shell"] = "true"
    env = {**{k: v for k, v in line.env.items() if k != "SHELL"}, **converted.env}
    if env:
        section["env"] = _env_text(env)
        if parse_env(section["env"]) != env:
            raise Unrepresentable("its variables cannot be written as env entries unchanged")
    section["cwd"] = converted.cwd or "~"  # cron starts every command in the home directory
    for key in ("rc_file", "nice", "ionice", "timeout"):
        value = getattr(converted, key)
        if value is not None:
            section[key] = str(value)
    if line.stdin is not None:
        if any(text != text.rstrip(" \t") for text in line.stdin.split("\n")):
            raise Unrepresentable("its standard input (the text after %) has blanks at the end of a "
                                  "line, which the ini format cannot keep; remove them or move the "
                                  "text into a script")
        section["stdin"] = "\n" + line.stdin  # the first newline is dropped (keeps line 1's blanks)
    return section


_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|CREDENTIAL|(?:^|_)(?:API_?)?KEY(?:$|_)",
                          re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """``PGPASSWORD``, ``GITHUB_TOKEN``, ``AWS_SECRET_ACCESS_KEY``, ``API_KEY``: a value not to keep in an ini
    (a ``*_FILE``/``*_PATH``/``*_DIR`` name holds where a secret is, not the secret)."""
    return bool(_SECRET_NAME.search(name)) and not re.search(r"(FILE|_PATH|_DIR)$", name, re.IGNORECASE)


def secret_messages(jobs: list[Job]) -> list[Message]:
    """One warning per secret-looking variable written into the ini's ``env``, naming its jobs."""
    found: dict[str, list[Job]] = {}
    for job in jobs:
        for name in parse_env(job.section.get("env", "")):
            if is_secret_name(name):
                found.setdefault(name, []).append(job)
    messages = []
    for name, holders in found.items():
        where = "~/.pgpass or the runner's environment" if name == "PGPASSWORD" else "the runner's environment"
        names = ", ".join(job.app_name for job in holders)
        messages.append(Message(holders[0].line.number, (
            f"{name} looks like a secret and is written into the ini in plain text (env of {names}): "
            f"move it to {where} (jobs inherit it) and delete it from env")))
    return messages


def convert_crontab(text: str, source_name: str, zone: str, system: bool) -> tuple[str, list[Message]]:
    """Crontab text -> (ini text, messages for stderr)."""
    crontab = parse_crontab(text, system)
    messages = list(crontab.messages)
    zone = _zone(crontab, zone, messages)
    jobs: list[Job] = []
    taken: set[str] = set()
    for line in crontab.lines:
        converted = convert(line.command, line.env.get("SHELL"))
        if line.user is not None:
            messages.append(Message(line.number, f"runs as user {line.user!r} in the system crontab: "
                                    "crontabber runs every job as the user that runs crontabber; "
                                    f"run it as {line.user!r} or prefix the command with sudo -u"))
        try:
            section = _section(line, converted)
            for value in section.values():
                ini_value(value)
        except Unrepresentable as exc:
            messages.append(Message(line.number, f"cannot be converted: {exc}; skipped"))
            continue
        jobs.append(Job(line, app_name_for(converted, taken), section, converted.notes))
    jobs = _verified(jobs, source_name, zone, messages)
    messages += secret_messages(jobs)
    messages.sort(key=lambda message: message.line or 0)
    skipped = sum(1 for message in messages if message.text.endswith("skipped"))
    messages.append(Message(None, f"converted {len(jobs)} jobs, skipped {skipped} lines; timezone {zone}"))
    return render(jobs, source_name, zone), messages


def _zone(crontab: Crontab, zone: str, messages: list[Message]) -> str:
    first_job = min((line.number for line in crontab.lines), default=None)
    for number, name, value in crontab.specials:
        if name == "CRON_TZ":
            try:
                parse_zone(value)
            except ScheduleError:
                messages.append(Message(number, f"CRON_TZ={value!r} is not an IANA zone; ignored"))
                continue
            if (first_job is None or number < first_job) and value != zone and \
                    not any(n == "CRON_TZ" and x < number for x, n, _ in crontab.specials):
                messages.append(Message(number, f"CRON_TZ={value} applies to every job: it became "
                                        "crontabber.timezone"))
                zone = value
            elif value != zone:
                messages.append(Message(number, f"CRON_TZ={value} cannot be honoured per job: "
                                        f"crontabber reads every schedule in crontabber.timezone = {zone}; "
                                        "the jobs below this line need their times shifted by hand"))
        elif name == "MAILTO" and value:
            messages.append(Message(number, f"MAILTO={value} cannot be honoured: crontabber sends no "
                                    "mail; failures are in the ledger ('crontabber list', 'crontabber "
                                    "nagios') and each run's output tail in its log row"))
        elif name != "MAILTO":
            messages.append(Message(number, f"{name} cannot be honoured (crontabber sends no mail); ignored"))
    return zone


def render(jobs: list[Job], source_name: str, zone: str) -> str:
    """The complete ini for ``jobs``."""
    out = [
        f"# crontabber configuration converted from the crontab {_printable(source_name)!r}",
        "# by 'crontabber import-crontab'. Run it from cron every minute, so that each job",
        "# starts in the minute its crontab line named:",
        "#   * * * * * crontabber --admin.conf=/path/to/this.ini",
        "[crontabber]",
        "# cron read the schedules in the host's local time; so does crontabber with this zone",
        f"timezone = {zone}",
        "# the ledger (default: crontabber.sqlite beside this file)",
        "# database_url = postgresql://crontabber@localhost/crontabber",
        "jobs = '''",
    ]
    out += [f"    job:{job.app_name}|{job.line.schedule}" for job in jobs]
    out.append("'''")
    for job in jobs:
        out.append("")
        out.append(f"    # crontab line {job.line.number}: {_printable(job.line.text)}")
        out += [f"    # {_printable(note)}" for note in job.notes]
        out.append(f"    [[job-{job.app_name}]]")
        out += [f"    {key} = {ini_value(value)}" for key, value in job.section.items()]
    return "\n".join(out) + "\n"


def _verified(jobs: list[Job], source_name: str, zone: str, messages: list[Message]) -> list[Job]:
    """Read the ini back; leave out (and report) any job that does not load exactly as intended."""
    from crontabber.config.settings import load_settings
    from crontabber.errors import ConfigError

    while jobs:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "import-check.ini"
            path.write_text(render(jobs, source_name, zone), encoding="utf-8")
            try:
                settings = load_settings(path, {}, {})
            except ConfigError as exc:
                bad = _job_named_in(str(exc), jobs)
                if bad is None:
                    raise
                messages.append(Message(bad.line.number, f"cannot be converted ({exc}); skipped"))
                jobs = [job for job in jobs if job is not bad]
                continue
        wrong = [job for job in jobs if not _loads_as_intended(job, settings)]
        if not wrong:
            return jobs
        for job in wrong:
            messages.append(Message(job.line.number, "cannot be converted: the ini format would change "
                                    "its command or settings; skipped"))
        jobs = [job for job in jobs if job not in wrong]
    return jobs


def _job_named_in(text: str, jobs: list[Job]) -> Job | None:
    return next((job for job in jobs if f"'{job.app_name}'" in text), None)


def _loads_as_intended(job: Job, settings: Any) -> bool:
    loaded = settings.job(job.app_name)
    if "procedure" in job.section:
        return (loaded.kind == "procedure" and loaded.entry.schedule_text == job.line.schedule
                and all(str(loaded.config[key]).strip() == job.section[key]
                        for key in ("procedure", "database_url")))
    try:
        same = ShellSpec.from_section(loaded.config) == ShellSpec.from_section(job.section)
    except ValueError:
        return False
    timeout = job.section.get("timeout")
    from crontabber.schedule import parse_duration

    return (same and loaded.entry.schedule_text == job.line.schedule
            and loaded.settings.timeout == (parse_duration(timeout) if timeout else None))


def import_command(args: Any, out: TextIO, err: TextIO, stdin: TextIO | None = None) -> int:
    """The subcommand: 0 when the ini was written, 2 when the input cannot be used.

    ``FILE`` may be ``-``: the crontab on standard input (``crontab -l | crontabber import-crontab -``)."""
    if len(args.args) != 1:
        err.write("crontabber: error: import-crontab needs one crontab file (or - for standard input): "
                  "crontabber import-crontab FILE [--output crontabber.ini]\n")
        return 2
    from_stdin = args.args[0] == "-"
    path = None if from_stdin else Path(args.args[0])
    label = "stdin" if path is None else str(path)
    try:
        if path is None:
            stream = stdin or sys.stdin
            data = stream.buffer.read() if hasattr(stream, "buffer") else stream.read().encode("utf-8")
        else:
            data = path.read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        err.write(f"crontabber: error: cannot read {label!r}: {getattr(exc, 'strerror', None) or exc}\n")
        return 2
    system, said = user_column(text, getattr(args, "system", None), looks_like_system_crontab(path, text))
    err.write(f"{label}: {said}\n")
    ini, messages = convert_crontab(text, "stdin" if path is None else path.name, host_zone(), system)
    for message in messages:
        err.write(f"{label}: {message}\n" if message.line else f"{label}: {message.text}\n")
    if getattr(args, "output", None):
        target = Path(args.output)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)  # as export-dags creates its folder
            target.write_text(ini, encoding="utf-8")
        except OSError as exc:
            err.write(f"crontabber: error: cannot write {args.output!r}: {exc.strerror or exc}\n")
            return 2
    else:
        out.write(ini)
    return 0
