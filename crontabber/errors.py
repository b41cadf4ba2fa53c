"""Exceptions that reach the operator, each mapped to one exit code (design §6)."""

from __future__ import annotations

# How to get psycopg2, in every message that needs it. The distribution is crontabber-ng:
# "crontabber" on the package index is Mozilla's 0.18.1, which has no postgres extra.
INSTALL_POSTGRES = ("pip install '.[postgres]' in a clone of crontabber (once published: "
                    "pip install 'crontabber-ng[postgres]'), or pip install psycopg2-binary")


class CrontabberError(Exception):
    """Base class: a problem reported as one line, without a traceback."""

    exit_code = 1


class ConfigError(CrontabberError):
    """Invalid configuration or usage, found before the ledger is opened (exit 2)."""

    exit_code = 2


class UsageError(ConfigError):
    """A command line that cannot be acted on (exit 2)."""


class JobNotFoundError(ConfigError):
    """``--job``/``--reset-job`` named a job that is not configured."""


class LedgerError(CrontabberError):
    """The ledger cannot be opened, reached or written (exit 3)."""

    exit_code = 3


class JobDescriptionError(ConfigError):
    """A jobs-list entry without ``|schedule``."""
