"""Hide passwords: one function for every output (stderr, log lines, ``list``, Nagios,
``configtest``) and for every text the ledger stores.

Three nets, each catching what the others miss:

- URL user info, ``scheme://user:PASSWORD@host``, read as libpq reads nothing: up to the
  *last* ``@`` before a blank, so a password holding an unencoded ``/``, ``?``, ``@`` or
  ``#`` is hidden whole;
- ``password=VALUE`` (any ``...password`` keyword: a URL's query string, a libpq keyword
  DSN, ``PGPASSWORD=...``), the value quoted or not;
- every password the configuration holds (``remember``), as written, percent-decoded and
  percent-encoded, wherever it appears (a driver's message may quote a piece of a URL).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, unquote

MASK = "***"
# scheme://user: then everything up to the last @ before a blank (greedy on purpose)
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@'\"]*:)(?P<secret>\S*)@")
# password=value, PGPASSWORD=value, sslpassword='quoted value', "password": "json value"
_KEYWORD = re.compile(r"(?P<head>\b\w*password\s*=\s*|[\"']\w*password[\"']\s*:\s*(?=[\"']))"
                      r"(?P<secret>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s&'\"]+)", re.IGNORECASE)
_MIN_REMEMBERED = 4  # a shorter "password" would mask ordinary words everywhere
_remembered: set[str] = set()
_lock = threading.Lock()


def redact(text: str) -> str:
    """``text`` with every password it may hold replaced by ``***``."""
    if not text:
        return text
    text = _USERINFO.sub(lambda m: m["head"] + MASK + "@", text)
    text = _KEYWORD.sub(lambda m: m["head"] + MASK, text)
    for secret in sorted(_remembered, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_url(url: str) -> str:
    """A database URL or DSN fit to print: ``postgresql://user:***@host:5432/db``."""
    return redact(url)


def secrets_in(text: str) -> list[str]:
    """The passwords ``text`` (a URL, a DSN, an option value) holds, as the redaction finds them."""
    found = [match["secret"] for pattern in (_USERINFO, _KEYWORD) for match in pattern.finditer(text or "")]
    values = [secret.strip("'\"").replace("\\'", "'") for secret in found]
    return [value for value in values if value and value != MASK]


def remember(*secrets: str | None) -> None:
    """Hide these values from now on wherever they appear (with their percent-encoded forms)."""
    forms: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        forms.update({secret, unquote(secret), quote(secret, safe=""), quote(unquote(secret), safe="")})
    with _lock:
        _remembered.update(form for form in forms if len(form) >= _MIN_REMEMBERED)


def remember_in(values: Iterable[str | None]) -> None:
    """``remember`` every password found in these URLs or DSNs."""
    for value in values:
        if value:
            remember(*secrets_in(value))


class RedactingFilter(logging.Filter):
    """A logging filter that hides passwords in every line it lets through."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = redact(message)
        if hidden != message:
            record.msg, record.args = hidden, None
        return True
