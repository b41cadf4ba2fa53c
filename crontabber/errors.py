"""Exceptions that reach the operator, each mapped to one exit code (design §6)."""

from __future__ import annotations


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
