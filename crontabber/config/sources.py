"""Where configuration values come from: the ini file (with line numbers), the environment
and the command line, so every setting can say its source (``configtest --verbose``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crontabber.config.options import KNOWN_ROOTS


class Sources:
    """The raw values of each source, to tell where an option's value came from.

    ``ini`` is the file as read (``ini_reader.read_ini``) with the config-declared jobs' sections
    taken out into ``job_sections`` ({app_name: {key: value}}): configman resolves the rest."""

    def __init__(self, conf_path: Path | None, environ: Mapping[str, str], overrides: Mapping[str, str],
                 ini: Any = None, job_sections: Mapping[str, Mapping[str, Any]] | None = None):
        self.conf_path = conf_path
        self.ini = ini
        self.job_sections = job_sections or {}
        self.section_lines: dict[str, int] = {}  # "[resource]" headers, even of empty sections
        self.ini_lines: dict[str, int] = scan_ini(conf_path, self.section_lines) if conf_path else {}
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
        head, _, rest = key.partition(".")
        section, _, name = rest.rpartition(".")
        if head == "crontabber" and section.startswith("job-") and "." not in section:
            value = self.job_sections.get(section[len("job-"):], {}).get(name)
            return value if isinstance(value, str) else None
        node: Any = self.ini
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

    def has_section(self, dotted: str) -> bool:
        prefix = dotted + "."
        return any(key.startswith(prefix) for source in (self.ini_lines, self.env, self.overrides)
                   for key in source)

    def configman_sources(self) -> list[Any]:
        """What configman resolves: the ini, then the environment, then the command line, without
        the config-declared jobs' keys (``job_sections`` merges those)."""
        from crontabber.config.job_sections import split_job_keys

        sources: list[Any] = [self.ini] if self.ini is not None else []
        return sources + [split_job_keys(self.env)[0], split_job_keys(self.overrides)[0]]

    def job_keys(self) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
        """The config-declared jobs' keys set in the environment and on the command line."""
        from crontabber.config.job_sections import split_job_keys

        return split_job_keys(self.env)[1], split_job_keys(self.overrides)[1]


def scan_ini(path: Path, sections: dict[str, int] | None = None) -> dict[str, int]:
    """dotted key -> line number, for an ini file in configman's nested-section format; the line of
    each section header goes into ``sections`` (dotted section name -> line) when given."""
    lines: dict[str, int] = {}
    path_parts: list[str] = []
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
            path_parts = path_parts[:depth - 1] + [header.group(2)]
            if sections is not None:
                sections.setdefault(".".join(path_parts), number)
            continue
        key_value = re.match(r"^([^=]+?)\s*=\s*(.*)$", line)
        if key_value:
            key = ".".join(path_parts + [key_value.group(1)])
            lines.setdefault(key, number)
            value = key_value.group(2)
            for triple in ("'''", '"""'):
                if value.startswith(triple) and value.count(triple) == 1:
                    quote = triple
    return lines
