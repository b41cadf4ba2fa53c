"""A failure's text in the ledger, as crontabber 0.18.1 wrote it, and its short form for people.

Dashboards and webapps read the ``crontabber`` and ``crontabber_log`` tables directly, so
the text is 0.18.1's: ``exc_type`` and ``last_error.type`` are ``repr(type(e))``
(``<class 'psycopg2.errors.UndefinedTable'>``), ``exc_value`` is ``repr(e)`` and
``last_error.value`` is ``str(e)``. ``list`` and Nagios show the class name alone.
"""

from __future__ import annotations

import re

_CLASS_REPR = re.compile(r"^<(?:class|type) '([^']+)'>$")


def short_type(text: str) -> str:
    """``"<class 'crontabber.legacy.shell.ShellCommandFailed'>"`` -> ``'ShellCommandFailed'``
    (also for 0.18.1's ``<type 'exceptions.NameError'>`` and plain dotted names)."""
    text = str(text or "").strip()
    match = _CLASS_REPR.match(text)
    return (match.group(1) if match else text).rpartition(".")[2]


def one_line(type_text: str, value: str) -> str:
    """``'ShellCommandFailed: exit code 2'``: the short type and the message on one line."""
    name = short_type(type_text) or "error"
    message = " ".join(str(value or "").split())
    return f"{name}: {message}" if message else name
