"""Reading crontabber.ini as configman does (configobj), fast where a file grows with its jobs.

A migrated crontab is thousands of ``[[job-*]]`` sections and a jobs list as long. configobj
parses ~25 µs per section and copies the whole multi-line ``jobs`` value once per line of it,
so those two parts are read here instead, but only where every line has one of the simple
shapes below (and the result is exactly what configobj gives: a test compares them); anything
else, and files that use ``+include`` or are not UTF-8, go to configobj unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crontabber.errors import ConfigError

JOB_PREFIX = "job-"
_TRIPLE_QUOTES = (b"'''", b'"""')
_HEADER = re.compile(rb"^\s*((?:\[\s*)+)(.*?)((?:\s*\])+)\s*(?:#.*)?$")
_KEY_VALUE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*?)\s*$")
_PLAIN = re.compile(r"^[^'\",#\s][^,#]*$")  # no quotes, no list commas, no comment
_QUOTED = re.compile(r"""^(?:'([^']*)'|"([^"]*)")\s*(?:#.*)?$""")
_TRIPLE = re.compile(r"""^('''|\"\"\")(.*?)\1\s*(?:#.*)?$""")
_JOBS_START = re.compile(rb"""^\s*jobs\s*=\s*('''|\"\"\")(.*?)\r?\n?$""")
_JOBS_MARK = "\x00crontabber jobs\x00"


def read_ini(path: Path) -> tuple[Any, dict[str, dict[str, Any]]]:
    """The ini as configman reads it (a ConfigObj) without the ``[[job-*]]`` sections read here,
    and those sections ({app_name: {key: value}}); a syntax error is one line naming its place."""
    import configobj
    from configman.value_sources.for_configobj import ConfigObjWithIncludes

    try:
        lines = path.read_bytes().splitlines(keepends=True)
        fast = _FastReader(lines).read()
        ini = ConfigObjWithIncludes(str(path)) if fast is None else configobj.ConfigObj(fast.rest)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                          f"{exc.start}): save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc}): check its permissions") from None
    except configobj.ConfigObjError as exc:
        raise ConfigError(syntax_error(path, exc)) from None
    if fast is None:
        return ini, {}
    crontabber = ini.get("crontabber")
    if fast.jobs is not None and isinstance(crontabber, dict) and crontabber.get("jobs") == _JOBS_MARK:
        crontabber["jobs"] = fast.jobs
    return ini, fast.sections


_INI_FAULTS = (
    ("Invalid line", "{line!r} is neither a [section] nor a key = value line (a value that "
                     "goes on over several lines needs triple quotes: key = \'\'\'...\'\'\')"),
    ("Duplicate keyword", "{key} is set twice in this section: keep one"),
    ("Duplicate section", "section {line} appears twice: merge them"),
    ("Section too nested", "section {line} is nested deeper than the section it follows "
                           "([a], then [[b]], then [[[c]]])"),
    ("multiline value", "the triple-quoted value that starts here never ends: close it with the "
                        "same quotes"),
    ("Parse error in value", "the value is malformed (an unclosed quote?): {line!r}"),
)


def syntax_error(path: Path, exc: Exception) -> str:
    """configobj's complaint as one line: the file, the line and what is wrong there."""
    first = (getattr(exc, "errors", None) or [exc])[0]
    number = getattr(first, "line_number", None)
    line = str(getattr(first, "line", "") or "").strip()
    text = str(first).split(" at line ")[0]
    if text.startswith("Invalid line") and line.startswith("[") and not line.endswith("]"):
        text = f"section header {line!r} is not closed: write [name], [[name]]..."
    for start, template in _INI_FAULTS:
        if start in text:
            text = template.format(line=line, key=line.split("=", 1)[0].strip())
            break
    return f"{path}:{number}: {text}" if number else f"{path}: {text}"


@dataclass
class _FastRead:
    rest: list[bytes]  # the file for configobj: lines read here are blank, the jobs value a marker
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: str | None = None


class _FastReader:
    """One pass over the file's lines, tracking the current ``[section]`` and ``[[subsection]]``."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines
        self.result = _FastRead(list(lines))

    def read(self) -> _FastRead | None:
        """What was read fast; None when configobj must read the whole file."""
        top, depth, index = b"", 0, 0
        try:
            while index < len(self.lines):
                line = self.lines[index]
                header = _HEADER.match(line) if line.lstrip()[:1] == b"[" else None
                if header is None:
                    if line.lstrip().startswith(b"+include"):
                        return None
                    taken = self._jobs_value(index) if (top, depth) == (b"crontabber", 1) else None
                    index = taken if taken is not None else _after_value(self.lines, index)
                    continue
                depth = header.group(1).count(b"[")
                if depth != header.group(3).count(b"]"):  # configobj reports the mismatch
                    top, depth, index = b"", 0, index + 1
                    continue
                if depth == 1:
                    top = header.group(2)
                if top == b"crontabber" and depth == 2:
                    index = self._job_section(index, header.group(2))
                else:
                    index += 1
        except UnicodeDecodeError:
            return None
        return self.result

    def _job_section(self, start: int, name: bytes) -> int:
        """Take the subsection at ``start`` if it is a simple ``[[job-*]]``; the index after it."""
        end = start + 1
        while end < len(self.lines) and not _is_header(self.lines[end]):
            end = _after_value(self.lines, end)
        if name.startswith(JOB_PREFIX.encode()):
            app_name = name[len(JOB_PREFIX):].decode("utf-8")
            values = _simple_values(self.lines[start + 1:end])
            if values is not None and app_name not in self.result.sections:
                self.result.sections[app_name] = values
                self.result.rest[start:end] = [b"\n"] * (end - start)
        return end

    def _jobs_value(self, start: int) -> int | None:
        """Take ``jobs = '''`` ... ``'''`` starting at ``start`` (once); the index after it."""
        match = _JOBS_START.match(self.lines[start])
        if self.result.jobs is not None or match is None or match.group(1) in match.group(2):
            return None
        quote = match.group(1)
        end = start + 1
        while end < len(self.lines) and quote not in self.lines[end]:
            end += 1
        if end == len(self.lines):
            return None
        last = re.match(rb"^(.*?)" + re.escape(quote) + rb"\s*(?:#.*)?\r?\n?$", self.lines[end])
        if last is None:
            return None
        middle = [line.rstrip(b"\r\n") for line in self.lines[start + 1:end]]
        self.result.jobs = b"\n".join([match.group(2), *middle, last.group(1)]).decode("utf-8")
        self.result.rest[start] = ("jobs = '''" + _JOBS_MARK + "'''\n").encode()
        self.result.rest[start + 1:end + 1] = [b"\n"] * (end - start)
        return end + 1


def _is_header(line: bytes) -> bool:
    return line.lstrip()[:1] == b"[" and _HEADER.match(line) is not None


def _after_value(lines: list[bytes], index: int) -> int:
    """The index after the line at ``index``, past a triple-quoted value that spans lines."""
    line = lines[index]
    for quote in _TRIPLE_QUOTES:
        if line.count(quote) == 1 and b"=" in line.split(quote)[0]:
            index += 1
            while index < len(lines) and quote not in lines[index]:
                index += 1
            break
    return index + 1


def _simple_values(lines: list[bytes]) -> dict[str, Any] | None:
    """{key: value} of a section's lines, or None when a line is not one of the simple shapes:
    a comment, ``key = plain words``, ``key = 'quoted'``, ``key = '''triple quoted'''``."""
    values: dict[str, Any] = {}
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _KEY_VALUE.match(line)
        if match is None or match.group(1) in values or "%(" in match.group(2):
            return None  # odd keys, duplicates and configobj's %(name)s interpolation: configobj
        key, value = match.groups()
        if not value or _PLAIN.match(value):
            values[key] = value
            continue
        triple = _TRIPLE.match(value)
        quoted = None if triple else _QUOTED.match(value)
        if triple is None and quoted is None:
            return None
        values[key] = triple.group(2) if triple else next(g for g in quoted.groups() if g is not None)
    return values
