"""The ``[[job-<app_name>]]`` sections of config-declared jobs, read without configman.

configman costs ~0.14 ms per namespace it resolves, and a migrated crontab declares
thousands of shell jobs, so their sections never become configman namespaces: ``ini_reader``
reads the file (as configobj would), the ``job-*`` sections are kept out of what configman
resolves, and each job's keys are merged here with the environment (``crontabber__job-x__key``) and the command line
(``--crontabber.job-x.key=``), last wins, remembering where each value came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crontabber.config.options import CONFIG_JOB_KEYS, PER_JOB_KEYS
from crontabber.errors import ConfigError

PREFIX = "job-"
KNOWN_KEYS = frozenset(PER_JOB_KEYS) | frozenset(CONFIG_JOB_KEYS)


def take_job_sections(ini: Any, where: str = "crontabber.ini") -> dict[str, dict[str, Any]]:
    """Remove the ``job-*`` subsections of ``[crontabber]`` from ``ini``; {app_name: keys}."""
    import configobj

    crontabber = ini.get("crontabber") if ini is not None else None
    if not isinstance(crontabber, Mapping):
        return {}
    names = [name for name in crontabber.sections if name.startswith(PREFIX)]
    taken = {}
    for name in names:
        try:
            taken[name[len(PREFIX):]] = dict(crontabber.pop(name).items())  # items() interpolates, as configman
        except configobj.InterpolationError as exc:
            raise ConfigError(f"{where}: [[{name}]]: {exc}: the ini reader replaces %(name)s with the value "
                              "of key 'name'; set that key or write the value without '%('") from None
    return taken


def split_job_keys(values: Mapping[str, str]) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Dotted environment or command-line values -> (the others, {app_name: {key: value}})."""
    others: dict[str, str] = {}
    jobs: dict[str, dict[str, str]] = {}
    for dotted, value in values.items():
        head, _, rest = dotted.partition(".")
        section, _, key = rest.rpartition(".")
        if head == "crontabber" and section.startswith(PREFIX) and "." not in section and key:
            jobs.setdefault(section[len(PREFIX):], {})[key] = value
        else:
            others[dotted] = value
    return others, jobs


@dataclass
class JobSection:
    """One config-declared job's keys (ini < environment < command line) and their sources."""

    app_name: str
    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set_keys(self) -> list[str]:
        """The keys given a non-empty value, in any source."""
        return [key for key, value in self.values.items() if value not in ("", None)]

    def unknown_keys(self) -> list[str]:
        """Dotted names of keys that no config-declared job reads (likely misspellings)."""
        return [f"crontabber.{PREFIX}{self.app_name}.{key}" for key in self.values if key not in KNOWN_KEYS]


def merge(app_name: str, ini_keys: Mapping[str, Any] | None, env: Mapping[str, str],
          overrides: Mapping[str, str], describe: Any) -> JobSection:
    """The section of ``app_name``: ini keys, then environment, then command line (last wins).

    ``describe(dotted_key)`` says where a value came from (``Sources.of``)."""
    section = JobSection(app_name)
    for layer in (ini_keys or {}, env, overrides):
        section.values.update(layer)
    for key in section.values:
        section.sources[key] = describe(f"crontabber.{PREFIX}{app_name}.{key}") or "default"
    return section
