"""Face of crontabber 0.18.1's ``crontabber.generic_app``: run a configman application class.

``main(App)`` builds the configuration (the ini named by ``--admin.conf``, then the
environment, then the command line), adds ``application`` and a ``logger``, instantiates
the class with it and returns its ``main()``'s exit code. A deployment's launcher calls it
as ``sys.exit(main(TheirCronTabber))``.

Differences from 0.18.1: an error crontabber can name (configuration, a job that is not
configured, the ledger) is one line on stderr with design §6's exit code (2 or 3; Nagios
checks print an UNKNOWN line instead), not a traceback; the logger's stderr level defaults to
WARNING (0.18.1: DEBUG), so a clean run prints nothing; the configuration is not logged at
start; SIGHUP does not restart the application.
"""

from __future__ import annotations

import functools
import inspect
import logging
import logging.handlers
import os
import re
import sys
from typing import Any

from configman import (
    ConfigFileFutureProxy,
    ConfigurationManager,
    Namespace,
    RequiredConfig,
    class_converter,
    command_line,
)
from configman.dotdict import DotDictWithAcquisition

from crontabber.errors import ConfigError, CrontabberError
from crontabber.log_setup import options_of, syslog_handler

environment = DotDictWithAcquisition(os.environ)
environment.always_ignore_mismatches = True


class AppDetailMissingError(AttributeError):
    """The application class lacks ``app_name``, ``app_version`` or ``app_description``."""


class App(RequiredConfig):
    """The base class of a configman application: ``App(config).main()`` returns the exit code."""

    def __init__(self, config: Any) -> None:
        self.config = config

    def main(self) -> int | None:
        raise NotImplementedError("A definition of 'main' in a derived class is required")


def logging_required_config(app_name: str) -> Namespace:
    """0.18.1's ``logging.*`` options (each defaulting to ``resource.logging.*``)."""
    options = Namespace()
    options.namespace("logging")
    for name, default, doc in (
        ("syslog_host", "localhost", "syslog hostname"),
        ("syslog_port", 514, "syslog port"),
        ("syslog_facility_string", "user", 'syslog facility string ("user", "local0", etc)'),
        ("syslog_line_format_string", f"{app_name} (pid {{process}}): {{asctime}} {{levelname}} - "
                                      "{threadName} - {message}", "python logging format for syslog entries"),
        ("syslog_error_logging_level", 40, "logging level for syslog (10 DEBUG ... 50 CRITICAL)"),
        ("stderr_line_format_string", "{asctime} {levelname} - {threadName} - {message}",
         "python logging format for logging to stderr"),
        ("stderr_error_logging_level", 30, "logging level for stderr (10 DEBUG ... 50 CRITICAL)"),
    ):
        options.logging.add_option(name, default=default, doc=doc, reference_value_from="resource.logging")
    return options


def setup_logger(app_name: str, config: Any, local_unused: Any = None, args_unused: Any = None) -> logging.Logger:
    """The ``logger`` of the configuration: ``logging.getLogger(app_name)`` writing to stderr as
    ``logging.stderr_*`` say (the runner's own ``crontabber`` logger writes there too)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(int(config.logging.stderr_error_logging_level))
    text = str(config.logging.stderr_line_format_string).replace("{app_name}", app_name)
    handler.setFormatter(logging.Formatter(re.sub(r"{(\w+)}", r"%(\1)s", text)))
    handlers: list[logging.Handler] = [handler]
    try:
        handlers.append(syslog_handler(options_of(config)))  # as 0.18.1: at syslog_error_logging_level
    except OSError as exc:  # a syslog host that does not resolve must not stop the jobs
        handler.handle(logging.makeLogRecord({"msg": f"syslog is unreachable ({exc}); logging to stderr only",
                                              "levelno": logging.WARNING, "levelname": "WARNING"}))
    for name in {app_name, "crontabber"}:
        logger = logging.getLogger(name)
        for old in logger.handlers:
            if old not in handlers and isinstance(old, logging.handlers.SysLogHandler):
                old.close()
        logger.handlers[:] = handlers
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
    return logging.getLogger(app_name)


def main(initial_app: Any, values_source_list: list[Any] | None = None, config_path: str | None = None,
         config_manager_cls: type = ConfigurationManager) -> int:
    """Configure and run ``initial_app`` (a class or its dotted path); return its exit code."""
    nagios = any(flag in sys.argv[1:] for flag in ("--nagios", "-n"))
    try:
        return _run(initial_app, values_source_list, config_path, config_manager_cls)
    except CrontabberError as exc:
        if nagios:
            sys.stdout.write(f"UNKNOWN - {' '.join(str(exc).replace('|', '/').split())}\n")
            return 3
        sys.stderr.write(f"crontabber: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("crontabber: interrupted\n")
        return 130


def _run(initial_app: Any, values_source_list: list[Any] | None, config_path: str | None,
         config_manager_cls: type) -> int:
    if isinstance(initial_app, str):
        initial_app = class_converter(initial_app)
    if values_source_list is None:
        values_source_list = [ConfigFileFutureProxy, environment, command_line]
    if config_path is None:
        config_path = os.environ.get("DEFAULT_SOCORRO_CONFIG_PATH", "./config")
        if config_path != "./config" and not os.path.isdir(config_path):
            raise ConfigError(f"DEFAULT_SOCORRO_CONFIG_PATH={config_path!r} is not a folder: fix the "
                              "variable or pass --admin.conf=FILE")
    try:
        app_name, app_version = initial_app.app_name, initial_app.app_version
        app_description = initial_app.app_description
    except AttributeError as exc:
        raise AppDetailMissingError(exc) from None
    definition = Namespace()
    definition.add_option("application", doc="the fully qualified module or class of the application",
                          default=initial_app, from_string_converter=class_converter)
    definition.add_aggregation("logger", functools.partial(setup_logger, app_name))
    try:
        manager = config_manager_cls(
            (definition, logging_required_config(app_name)), app_name=app_name, app_version=app_version,
            app_description=app_description, values_source_list=values_source_list,
            config_pathname=config_path)
    except (CrontabberError, SystemExit):
        raise
    except Exception as exc:  # configman's own errors: a bad option, value or file
        raise ConfigError(f"configuration error: {type(exc).__name__}: {exc}") from exc
    with manager.context() as config:
        app = config.application
        if isinstance(app, type):
            instance = app(config)
            instance.config_manager = manager
            code = instance.main()
        elif inspect.ismodule(app):
            code = app.main(config)
        else:
            code = app(config)
        config.logger.info("done.")
        return 0 if code is None else code
