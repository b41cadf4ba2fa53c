"""Keys in crontabber's own part of the configuration that nothing reads: typos, most often.

Only ``crontabber.*`` is ours to judge. Other sections of a shared ini (another
application's options, 0.18.1's ``resource``/``logging`` keys) stay silent, so an unchanged
0.18.1 ini says nothing. Each unknown key becomes one warning line: the tick logs it, and
``configtest`` lists it (``--strict`` makes it an error).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from crontabber.config.options import CONFIG_JOB_KEYS, GLOBAL_OPTIONS, PER_JOB_KEYS
from crontabber.config.sources import Sources

OURS = "crontabber."
LEGACY_CLASS_KEYS = ("frequency", "time")  # 0.18.1 wrote them into every [[class-X]] it dumped


def unknown_key_warnings(unknown: Iterable[str], sources: Sources, sections: Sequence[str]) -> list[str]:
    """One line per unknown ``crontabber.*`` key: where it is, what is wrong, the likely fix.

    ``sections`` are the per-job sections of the configured jobs (``class-X``, ``job-x``)."""
    lines = []
    for key in sorted(set(unknown)):
        if not key.startswith(OURS):
            continue
        where = sources.of(key) or key
        parts = key[len(OURS):].split(".")
        if len(parts) == 1:
            names = [name for name, *_ in GLOBAL_OPTIONS] + list(PER_JOB_KEYS)
            lines.append(f"{where}: unknown option {key} is ignored{_guess(parts[0], names)}")
        elif parts[0] in sections:
            names = list(PER_JOB_KEYS) + (list(CONFIG_JOB_KEYS) if parts[0].startswith("job-") else [])
            lines.append(f"{where}: unknown option {parts[-1]!r} in [[{parts[0]}]] is ignored"
                         f"{_guess(parts[-1], names) or _connection_hint(parts[0], parts[-1])}")
        else:
            guess = _guess(parts[0], sections, "[[", "]]")
            lines.append(f"{where}: [[{parts[0]}]] matches no configured job, so {key} is ignored{guess}")
    return lines


def _guess(word: str, candidates: Iterable[str], before: str = "", after: str = "") -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.75)
    return f" (did you mean {before}{close[0]}{after}?)" if close else ""


def _connection_hint(section: str, name: str) -> str:
    """Where a Python job's own database settings go, for a key written one level too high."""
    if not section.startswith("class-") or name not in ("host", "port", "dbname", "user", "password",
                                                        "database_url"):
        return ""
    return (f"; a job using the PostgreSQL mixins reads its connection from a [[[database]]] subsection of "
            f"[[{section}]]: host, port, dbname, user, password (each defaults to resource.postgresql's)")
