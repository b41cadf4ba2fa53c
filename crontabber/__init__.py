"""crontabber: a cron-invoked job runner compatible with Mozilla's crontabber 0.18.1."""

from crontabber import _compat  # noqa: F401  (must run before configman is imported)

__version__ = "1.0.0"
