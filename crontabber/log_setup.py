"""Where crontabber's log lines go: stderr, and syslog, as 0.18.1's ``logging.*`` options say.

Each option is read from ``logging.<name>`` when set there, else from
``resource.logging.<name>`` (0.18.1 declared both; the latter carries the defaults).
Like 0.18.1, a syslog handler is always attached, at ``syslog_error_logging_level``
(default 40, ERROR); unlike 0.18.1, it honours ``syslog_host`` and ``syslog_port``
(0.18.1 always sent to localhost:514), and a host that starts with ``/`` names a
local socket such as ``/dev/log``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, TextIO

from crontabber.errors import ConfigError

LOGGER_NAME = "crontabber"
OPTION_NAMES = ("syslog_host", "syslog_port", "syslog_facility_string", "syslog_line_format_string",
                "syslog_error_logging_level", "stderr_line_format_string", "stderr_error_logging_level")


def options_of(config: Any) -> dict[str, str]:
    """The logging options of a resolved configuration: ``logging.<name>`` when set, else
    ``resource.logging.<name>`` (a launcher's configuration may have no ``[resource]``)."""
    options = {}
    for name in OPTION_NAMES:
        value = config.logging[name]
        if value in (None, "") and "resource" in config:
            value = config.resource.logging[name]
        options[name] = str(value)
    return options


def _level(options: Mapping[str, str], name: str) -> int:
    text = options[name].strip()
    if text.isdigit():
        return int(text)
    level = logging.getLevelName(text.upper())
    if isinstance(level, int):
        return level
    raise ConfigError(f"logging.{name} = {text!r}: use a number (10 DEBUG, 20 INFO, 30 WARNING, "
                      "40 ERROR, 50 CRITICAL) or one of those names")


def _format(options: Mapping[str, str], name: str) -> logging.Formatter:
    text = options[name].replace("{app_name}", LOGGER_NAME)
    try:
        formatter = logging.Formatter(text, style="{")
        formatter.format(logging.LogRecord(LOGGER_NAME, logging.INFO, __file__, 0, "check", (), None))
    except (ValueError, KeyError, IndexError) as exc:
        raise ConfigError(f"logging.{name} = {text!r} is not a usable {{}}-style format "
                          f"({type(exc).__name__}: {exc}); e.g. '{{asctime}} {{levelname}} - {{message}}'") from None
    return formatter


def syslog_handler(options: Mapping[str, str]) -> logging.Handler:
    """A ``SysLogHandler`` for the configured host/port (UDP) or local socket, facility and format."""
    import logging.handlers  # only when the handler is built (it pulls in socket and more)

    facility_name = options["syslog_facility_string"].strip().lower()
    facility = logging.handlers.SysLogHandler.facility_names.get(facility_name)
    if facility is None:
        known = ", ".join(sorted(logging.handlers.SysLogHandler.facility_names))
        raise ConfigError(f"logging.syslog_facility_string = {facility_name!r} is not a syslog "
                          f"facility; use one of {known}")
    host = options["syslog_host"].strip() or "localhost"
    if host.startswith("/"):
        address: Any = host
    else:
        port = options["syslog_port"].strip()
        if not port.isdigit():
            raise ConfigError(f"logging.syslog_port = {port!r}: the port must be a number (e.g. 514)")
        address = (host, int(port))
    handler = logging.handlers.SysLogHandler(address=address, facility=facility)  # OSError: unreachable
    handler.setLevel(_level(options, "syslog_error_logging_level"))
    handler.setFormatter(_format(options, "syslog_line_format_string"))
    return handler


def configure(options: Mapping[str, str], stream: TextIO, debug: bool = False) -> logging.Logger:
    """Send the ``crontabber`` logger's lines to ``stream`` and to syslog; return that logger.

    Replaces (and closes) the handlers a previous call attached, so a process that runs
    several commands keeps one stderr and one syslog handler."""
    stderr = logging.StreamHandler(stream)
    stderr.setFormatter(_format(options, "stderr_line_format_string"))
    stderr.setLevel(logging.DEBUG if debug else _level(options, "stderr_error_logging_level"))
    logger = logging.getLogger(LOGGER_NAME)
    for old in logger.handlers:
        old.close()
    logger.handlers[:] = [stderr]
    logger.setLevel(stderr.level)
    logger.propagate = False
    try:
        syslog = syslog_handler(options)
    except OSError as exc:  # a syslog host that does not resolve must not stop the jobs
        logger.warning("syslog at %s is unreachable (%s); log lines go to stderr only",
                       options["syslog_host"], exc)
        return logger
    logger.addHandler(syslog)
    logger.setLevel(min(stderr.level, syslog.level))
    return logger


def stderr_level() -> int:
    """The level at which ``configure``'s stderr handler prints (WARNING before any configure)."""
    for handler in logging.getLogger(LOGGER_NAME).handlers:
        if type(handler) is logging.StreamHandler:
            return handler.level
    return logging.WARNING
