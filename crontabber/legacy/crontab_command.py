"""Turn a crontab command into a shell job's settings, peeling off the usual wrappers.

The command is lexed the way /bin/sh would split it (quotes, escapes, ``$(...)``,
backticks, operators, redirections), without running or expanding anything.
Recognised, and turned into settings instead of copied:

- leading ``cd DIR &&`` -> ``cwd`` (relative to ``~``, where cron starts);
- leading ``. FILE &&`` or ``source FILE &&`` -> ``rc_file``;
- a leading ``lock NAME &&`` and trailing ``; unlock NAME`` helper pair (any
  ``lock``/``*-lock``/``*_lock`` script), ``flock [-n] FILE``, ``run-one`` and
  ``lockrun ... --`` -> dropped: crontabber runs a job in one process at a time;
- ``nice [-n N]``, ``ionice -c C [-n L]`` -> ``nice``, ``ionice``; ``timeout D`` -> ``timeout``;
- leading ``NAME=value`` words -> ``env``;
- ``psql [connection flags] -c 'CALL name()'`` (or ``SELECT name()``, nothing else) -> a
  procedure job (``procedure``; the importer builds ``database_url``);
- a trailing ``>> FILE 2>&1`` (or ``> FILE 2>&1``, ``&>> FILE``, ``>/dev/null 2>&1``,
  ``2>&1``) -> dropped: the output's tail is kept in the run's log row.

What is left runs without a shell when it is plain words (no expansion, operator
or redirection), else verbatim through ``/bin/sh -c``, exactly as cron ran it.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field

from crontabber.legacy.shell_lex import LexError, Token, lex, word_end

_LOCK_HELPER = re.compile(r"^(?:lock|[\w.-]*[-_]lock)(?:\.sh)?$")
_UNLOCK_HELPER = re.compile(r"^(?:unlock|[\w.-]*[-_]unlock)(?:\.sh)?$")
_BUILTINS = {"test", "[", "true", "false", ":", "cd", "echo", "printf", "export", "set", "if", "then", "else",
             "elif", "fi", "for", "while", "until", "do", "done", "case", "esac", ".", "source", "exit"}
_INTERPRETERS = {"sh", "bash", "dash", "zsh", "ksh", "python", "python2", "python3", "perl", "php",
                 "ruby", "node", "exec"}


@dataclass
class Converted:
    """What a crontab command becomes: the job's command and the settings taken from its wrappers."""

    command: str
    shell: bool = False
    cwd: str | None = None
    rc_file: str | None = None
    nice: int | None = None
    ionice: str | None = None
    timeout: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    program: str = ""  # the word the app name is derived from
    procedure: str | None = None  # psql -c 'CALL name()' or 'SELECT name()': a procedure job
    psql: dict[str, str] = field(default_factory=dict)  # psql's connection flags: host, port, user, dbname


def convert(command: str, shell_var: str | None = None) -> Converted:
    """A crontab command -> the job's command and settings (see the module docstring)."""
    try:
        tokens = lex(command)
    except LexError as exc:
        return Converted(command, shell=True, notes=[f"kept verbatim for /bin/sh ({exc})"])
    result = Converted("")
    tokens = _peel_leading(tokens, result)
    tokens = _peel_unlock(tokens, result)
    tokens = _peel_output(tokens, result)
    if tokens and all(token.kind == "word" for token in tokens):
        tokens = _peel_words(tokens, result)
    if not tokens:
        return Converted(command, shell=True, notes=["nothing is left once the wrappers are removed; "
                                                     "kept verbatim"])
    text = command[tokens[0].start:tokens[-1].end]
    result.shell = not all(token.kind == "word" and token.plain for token in tokens)
    result.command = text
    if result.shell and shell_var and shell_var != "/bin/sh":
        result.command = shlex.join([shell_var, "-c", text])
        result.shell = False
        result.notes.append(f"runs with SHELL={shell_var}, as cron did")
    result.program = _program(tokens)
    if not result.shell and result.program == "psql":
        _psql_call([token.value for token in tokens], result)
    return result


_PSQL_SQL = re.compile(r'^\s*(CALL|SELECT)\s+((?:[A-Za-z_][\w$]*|"[^"]+")(?:\.(?:[A-Za-z_][\w$]*|"[^"]+"))?)'
                       r"\s*\(\s*\)\s*;?\s*$", re.IGNORECASE)
_PSQL_FLAGS = {"-h": "host", "--host": "host", "-p": "port", "--port": "port", "-U": "user",
               "--username": "user", "-d": "dbname", "--dbname": "dbname"}
_PSQL_SWITCHES = ("-X", "--no-psqlrc", "-q", "--quiet", "-v", "--set", "-w", "--no-password")


def _psql_call(words: list[str], result: Converted) -> None:
    """``psql [connection flags] -c 'CALL name()'`` -> a procedure job (the SQL must be just that call)."""
    flags: dict[str, str] = {}
    sql = None
    index = 1
    while index < len(words):
        word = words[index]
        name, equals, value = word.partition("=")
        if name in _PSQL_FLAGS or name == "-c" or name == "--command":
            if not equals:
                if index + 1 >= len(words):
                    return
                index += 1
                value = words[index]
            if name in ("-c", "--command"):
                if sql is not None:
                    return
                sql = value
            else:
                flags[_PSQL_FLAGS[name]] = value
        elif word in ("-v", "--set"):
            if index + 1 >= len(words) or words[index + 1] != "ON_ERROR_STOP=1":
                return
            index += 1
        elif name in _PSQL_SWITCHES and (not equals or value == "ON_ERROR_STOP=1"):
            pass
        elif not word.startswith("-") and "dbname" not in flags:
            flags["dbname"] = word
        else:
            return
        index += 1
    match = _PSQL_SQL.match(sql or "")
    if match:
        result.procedure = match.group(2)
        result.psql = flags
        result.program = match.group(2).rpartition(".")[2].strip('"')
        result.notes.append(f"psql -c {sql!r} became a procedure job (one transaction, the error text "
                            "in the ledger)")


def _segments(tokens: list[Token]) -> list[tuple[list[Token], Token | None]]:
    """(tokens, the ``&&``/``;`` after them) for each top-level segment."""
    segments: list[tuple[list[Token], Token | None]] = []
    current: list[Token] = []
    for token in tokens:
        if token.kind == "op" and token.text in ("&&", ";"):
            segments.append((current, token))
            current = []
        else:
            current.append(token)
    segments.append((current, None))
    return segments


def _simple_words(tokens: list[Token]) -> list[str] | None:
    if tokens and all(token.kind == "word" and token.plain for token in tokens):
        return [token.value for token in tokens]
    return None


def _peel_leading(tokens: list[Token], result: Converted) -> list[Token]:
    while True:
        segments = _segments(tokens)
        if len(segments) < 2:
            return tokens
        first, separator = segments[0]
        words = _simple_words(first)
        head = first[0].text if first and first[0].kind == "word" else ""
        path = _path_word(first[1]) if len(first) == 2 else None
        if head == "cd" and path is not None and result.cwd is None:
            result.cwd = path if path.startswith(("/", "~")) else f"~/{path}"
            result.notes.append(f"'cd {first[1].text}' became cwd")
        elif head in (".", "source") and path is not None and result.rc_file is None:
            result.rc_file = path
            result.notes.append(f"'{head} {first[1].text}' became rc_file")
        elif words and _LOCK_HELPER.match(os.path.basename(words[0])) and separator and separator.text == "&&":
            result.notes.append(f"lock helper '{' '.join(words)}' dropped: crontabber runs a job in "
                                "one process at a time")
        else:
            return tokens
        tokens = tokens[len(first) + 1:]


def _path_word(token: Token) -> str | None:
    """A path as written (``~`` and ``$HOME`` become ``~``), or None when it needs the shell."""
    if token.kind != "word":
        return None
    raw = token.text
    for prefix in ("$HOME/", "${HOME}/", "~/"):
        if raw.startswith(prefix):
            rest = raw[len(prefix):]
            if rest and word_end(rest, 0) == (len(rest), True):
                return "~/" + shlex.split(rest)[0]
            return None
    if raw in ("~", "$HOME", "${HOME}"):
        return "~"
    return token.value if token.plain else None


def _peel_unlock(tokens: list[Token], result: Converted) -> list[Token]:
    segments = _segments(tokens)
    if len(segments) < 2:
        return tokens
    last = segments[-1][0]
    words = _simple_words(last)
    if words and _UNLOCK_HELPER.match(os.path.basename(words[0])):
        result.notes.append(f"unlock helper '{' '.join(words)}' dropped")
        return tokens[:len(tokens) - len(last) - 1]
    return tokens


def _peel_output(tokens: list[Token], result: Converted) -> list[Token]:
    """Drop a trailing redirection of both stdout and stderr (the log row keeps the output)."""
    if any(token.kind == "op" for token in tokens):
        return tokens  # the redirection would cover only the last command of a list or pipe

    def redirect(index: int, *texts: str) -> bool:
        return tokens[index].kind == "redirect" and tokens[index].text in texts

    def word(index: int, value: str | None = None) -> bool:
        token = tokens[index]
        return _path_word(token) is not None and (value is None or token.value == value)

    count = len(tokens)
    others = sum(token.kind == "redirect" for token in tokens)
    if count >= 5 and redirect(-4, ">>", ">", "1>>", "1>") and word(-3) and redirect(-2, "2>&") and word(-1, "1"):
        cut, target = 4, _path_word(tokens[-3])
    elif count >= 3 and redirect(-2, "&>>", "&>") and word(-1):
        cut, target = 2, _path_word(tokens[-1])
    elif count >= 3 and redirect(-2, "2>&") and word(-1, "1") and others == 1:
        cut, target = 2, None
    else:
        return tokens
    shown = " ".join(token.text for token in tokens[-cut:]).replace("2>& 1", "2>&1")
    before = f"went to {target}" if target else "was mailed"
    result.notes.append(f"output redirection '{shown}' dropped: the output ({before} under cron) is "
                        "kept in the run's log row")
    return tokens[:-cut]


def _peel_words(tokens: list[Token], result: Converted) -> list[Token]:
    """Leading ``NAME=value`` words and the flock/run-one/nice/ionice/timeout wrappers."""
    while tokens and tokens[0].plain:
        word = tokens[0].value
        values = [token.value if token.plain else None for token in tokens]
        name, equals, value = word.partition("=")
        if equals and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name) and not tokens[0].text.startswith(("'", '"')):
            result.env[name] = value
            tokens = tokens[1:]
            continue
        used = _wrapper(values, result)
        if not used:
            return tokens
        tokens = tokens[used:]
    return tokens


def _wrapper(words: list[str | None], result: Converted) -> int:
    """How many leading words form a recognised wrapper (0: none), recording its setting."""
    program = os.path.basename(words[0] or "")
    if program == "run-one":
        result.notes.append("run-one dropped: crontabber runs a job in one process at a time")
        return 1
    if program == "flock":
        index = 1
        while index < len(words) and (words[index] or "").startswith("-"):
            if words[index] in ("-w", "--timeout", "-E", "--conflict-exit-code"):
                index += 1
            index += 1
        if index + 1 < len(words) and words[index] is not None and "-c" not in words[1:index]:
            result.notes.append(f"flock on {words[index]} dropped: crontabber runs a job in one "
                                "process at a time")
            return index + 1
        return 0
    if program == "lockrun" and "--" in words:
        result.notes.append("lockrun dropped: crontabber runs a job in one process at a time")
        return words.index("--") + 1
    if program == "nice" and result.nice is None:
        if len(words) > 3 and words[1] == "-n" and _int(words[2]) is not None:
            result.nice = _int(words[2])
            return 3
        if len(words) > 2 and re.match(r"^-\d+$", words[1] or ""):
            result.nice = int((words[1] or "")[1:])
            return 2
        if len(words) > 1 and not (words[1] or "-").startswith("-"):
            result.nice = 10
            return 1
        return 0
    if program == "ionice" and result.ionice is None:
        return _ionice(words, result)
    if program == "timeout" and result.timeout is None and len(words) > 2:
        match = re.match(r"^(\d+(?:\.\d+)?)([smhd]?)$", words[1] or "")
        if match:
            result.timeout = words[1]
            return 2
    return 0


def _ionice(words: list[str | None], result: Converted) -> int:
    names = {"1": "realtime", "2": "best-effort", "3": "idle"}
    klass, level, index = None, None, 1
    while index + 1 < len(words) and words[index] in ("-c", "-n"):
        if words[index] == "-c":
            klass = names.get(words[index + 1] or "")
        else:
            level = words[index + 1] if (words[index + 1] or "").isdigit() else None
        index += 2
    if klass is None or index >= len(words):
        return 0
    result.ionice = f"{klass}:{level}" if level is not None and klass != "idle" else klass
    return index


def _int(text: str | None) -> int | None:
    return int(text) if text and re.match(r"^-?\d+$", text) else None


def _program(tokens: list[Token]) -> str:
    """The word an app name comes from: the first real program (or the script an interpreter runs),
    past wrappers and their arguments (``sudo -u www-data x.sh`` -> ``x.sh``, not ``www-data``)."""
    at_command, after_redirect = True, False
    takes_value: frozenset[str] = frozenset()
    value_next = False  # the next word is an option's value
    skip = 0  # a wrapper's own arguments still to pass over (timeout's duration, flock's lock file)
    for token in tokens:
        if token.kind != "word":
            at_command = token.kind == "op" or at_command
            after_redirect = token.kind == "redirect"
            takes_value, skip, value_next = frozenset(), 0, False
            continue
        if after_redirect or not token.plain:
            after_redirect = False
            continue
        word = token.value
        base = os.path.basename(word)
        if not at_command:
            continue
        if value_next:
            value_next = False
            continue
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", word) or word.startswith("-"):
            value_next = word in takes_value
            continue  # an assignment or an option: still looking for the program
        if skip:
            skip -= 1
            continue
        if base in _WRAPPERS:
            takes_value, skip = _WRAPPERS[base]
            continue
        if base in _INTERPRETERS or re.match(r"^python\d", base):
            continue
        if base in _BUILTINS:
            at_command = False
            continue
        return base
    return ""


# Programs that run another program: (options that take a value, arguments before the program).
_WRAPPERS: dict[str, tuple[frozenset[str], int]] = {
    "sudo": (frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-T", "-U", "-R", "--user", "--group",
                        "--chdir", "--prompt", "--role", "--type", "--other-user", "--chroot",
                        "--close-from", "--command-timeout"}), 0),
    "env": (frozenset({"-u", "-C", "-S", "--unset", "--chdir", "--split-string"}), 0),
    "nice": (frozenset({"-n", "--adjustment"}), 0),
    "ionice": (frozenset({"-c", "-n", "-t", "--class", "--classdata"}), 0),
    "timeout": (frozenset({"-s", "-k", "--signal", "--kill-after"}), 1),
    "flock": (frozenset({"-w", "-E", "--timeout", "--wait", "--conflict-exit-code"}), 1),
    "stdbuf": (frozenset({"-i", "-o", "-e", "--input", "--output", "--error"}), 0),
    "chronic": (frozenset(), 0), "nohup": (frozenset(), 0), "setsid": (frozenset(), 0),
    "run-one": (frozenset(), 0), "time": (frozenset({"-f", "-o", "--format", "--output"}), 0),
}
