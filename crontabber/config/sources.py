"""Where configuration values come from: the ini file (with line numbers), the environment
and the command line, so every setting can say its source (``configtest --verbose``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crontabber.config.options import KNOWN_ROOTS


class Sources:
    """The raw values of each source, to tell where an option's value came from."""

    def __init__(self, conf_path: Path | None, environ: Mapping[str, str], overrides: Mapping[str, str]):
        self.conf_path = conf_path
        self.ini_lines: dict[str, int] = scan_ini(conf_path) if conf_path else {}
        self.env_names: dict[str, str] = {}
        self.env: dict[str, str] = {}
        for name, value in environ.items():
            if "__" in name and name != name.upper():
                dotted = name.replace("__", ".")
                if dotted.split(".", 1)[0] in KNOWN_ROOTS:
                    self.env[dotted] = value
                    self.env_names[dotted] = name
        self.overrides = dict(overrides)
        self._text_lines: list[str] | None = None
        self._configobj: Any = None

    def of(self, key: str) -> str | None:
        """Where ``key`` was set, or None when it has its default."""
        if key in self.overrides:
            return f"command line --{key}"
        if key in self.env:
            return f"environment {self.env_names[key]}"
        if key in self.ini_lines:
            return f"{self.conf_path}:{self.ini_lines[key]}"
        return None

    def raw_value(self, key: str) -> str | None:
        """The text after ``=`` on the ini line of ``key``, as written (comments included)."""
        number = self.ini_lines.get(key)
        if number is None or self.conf_path is None:
            return None
        line = self._lines()[number - 1]
        return line.split("=", 1)[1].strip() if "=" in line else None

    def ini_value(self, key: str) -> str | None:
        """The value the ini reader (configobj) gives ``key``."""
        node: Any = self._parsed()
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node if isinstance(node, str) else None

    def _lines(self) -> list[str]:
        if self._text_lines is None:
            assert self.conf_path is not None
            self._text_lines = self.conf_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return self._text_lines

    def _parsed(self) -> Any:
        if self._configobj is None:
            assert self.conf_path is not None
            self._configobj = read_ini(self.conf_path)
        return self._configobj

    def has_section(self, dotted: str) -> bool:
        prefix = dotted + "."
        return any(key.startswith(prefix) for source in (self.ini_lines, self.env, self.overrides)
                   for key in source)

    def configman_sources(self) -> list[Any]:
        """The ini file as parsed here (whatever its extension: configman would read a
        ``.conf`` file in another format), then the environment and the command line."""
        sources: list[Any] = [self._parsed()] if self.conf_path else []
        return sources + [dict(self.env), dict(self.overrides)]


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


def read_ini(path: Path) -> Any:
    """Parse the ini file as configman does (``+include`` lines too); an error is one line
    naming the file, the line and what is wrong."""
    from configman.value_sources.for_configobj import ConfigObjWithIncludes
    from configobj import ConfigObjError

    from crontabber.errors import ConfigError

    try:
        return ConfigObjWithIncludes(str(path))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                          f"{exc.start}): save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc}): check its permissions") from None
    except ConfigObjError as exc:
        first = (getattr(exc, "errors", None) or [exc])[0]
        number = getattr(first, "line_number", None)
        line = (getattr(first, "line", "") or "").strip()
        text = str(first).split(" at line ")[0]
        if text.startswith("Invalid line") and line.startswith("[") and not line.endswith("]"):
            text = f"section header {line!r} is not closed: write [name], [[name]]..."
        for start, template in _INI_FAULTS:
            if start in text:
                text = template.format(line=line, key=line.split("=", 1)[0].strip())
                break
        raise ConfigError(f"{path}:{number}: {text}" if number else f"{path}: {text}") from None


def scan_ini(path: Path) -> dict[str, int]:
    """dotted key -> line number, for an ini file in configman's nested-section format."""
    lines: dict[str, int] = {}
    sections: list[str] = []
    quote = None
    for number, raw in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        line = raw.strip()
        if quote:
            if quote in line:
                quote = None
            continue
        if not line or line.startswith("#"):
            continue
        header = re.match(r"^(\[+)\s*([^\]]+?)\s*(\]+)$", line)
        if header:
            depth = len(header.group(1))
            sections = sections[:depth - 1] + [header.group(2)]
            continue
        key_value = re.match(r"^([^=]+?)\s*=\s*(.*)$", line)
        if key_value:
            key = ".".join(sections + [key_value.group(1)])
            lines.setdefault(key, number)
            value = key_value.group(2)
            for triple in ("'''", '"""'):
                if value.startswith(triple) and value.count(triple) == 1:
                    quote = triple
    return lines
