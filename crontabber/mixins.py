"""Class decorators of crontabber 0.18.1 that give a job backfill, a database or a subprocess.

The decorator factories are called: ``@using_postgres()``. Resources are configured
in the job's own section (``[[class-X]]``) and default to ``resource.postgresql``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from configman import RequiredConfig, class_converter

import crontabber  # noqa: F401  (applies the configman compat shim)


def as_backfill_cron_app(cls: type) -> type:
    """Make ``run(date)`` be called once for every missed interval since the last success.

    As in 0.18.1 the decorator replaces a ``main`` defined in the class itself with one that
    calls the base class's ``main`` in backfill mode; a subclass's own ``main`` still wins.
    """

    def main(self: Any, function: Callable[..., Any] | None = None) -> Any:
        return super(cls, self).main(function=function, once=False)

    cls.main = main
    cls._is_backfill_app = True
    return cls


def with_transactional_resource(transactional_resource_class: str, resource_name: str,
                                reference_value_from: str | None = None) -> Callable[[type], type]:
    """Give the job ``self.<name>_connection_factory`` and ``self.<name>_transaction_executor``.

    As in 0.18.1 they exist before the class's own ``__init__`` runs: the base classes'
    ``__init__`` runs first, the resources are made, then the class's ``__init__``."""

    def class_decorator(cls: type) -> type:
        if not issubclass(cls, RequiredConfig):
            raise TypeError(f"{cls} must have RequiredConfig as a base class")
        required = cls.get_required_config()
        required.namespace(resource_name)
        required[resource_name].add_option(
            f"{resource_name}_class", default=transactional_resource_class,
            from_string_converter=class_converter, reference_value_from=reference_value_from)
        required[resource_name].add_option(
            f"{resource_name}_transaction_executor_class",
            default="crontabber.transaction_executor.TransactionExecutor",
            doc="a class that will execute transactions",
            from_string_converter=class_converter, reference_value_from=reference_value_from)
        cls.required_config = required
        original_init = cls.__init__

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            super(cls, self).__init__(*args, **kwargs)
            section = self.config[resource_name]
            factory = section[f"{resource_name}_class"](section)
            setattr(self, f"{resource_name}_connection_factory", factory)
            executor = section[f"{resource_name}_transaction_executor_class"](section, factory)
            setattr(self, f"{resource_name}_transaction_executor", executor)
            original_init(self, *args, **kwargs)

        cls.__init__ = __init__
        return cls

    return class_decorator


def with_resource_connection_as_argument(resource_name: str) -> Callable[[type], type]:
    """Call ``run(connection, ...)`` with a connection that is closed afterwards."""

    def class_decorator(cls: type) -> type:
        def _run_proxy(self: Any, *args: Any, **kwargs: Any) -> None:
            factory = getattr(self, f"{resource_name}_connection_factory")
            with factory() as connection:
                try:
                    self.run(connection, *args, **kwargs)
                finally:
                    factory.close_connection(connection, force=True)

        cls._run_proxy = _run_proxy
        return cls

    return class_decorator


def with_single_transaction(resource_name: str) -> Callable[[type], type]:
    """Call ``run(connection, ...)`` inside one transaction: commit on return, roll back on error."""

    def class_decorator(cls: type) -> type:
        def _run_proxy(self: Any, *args: Any, **kwargs: Any) -> None:
            getattr(self, f"{resource_name}_transaction_executor")(self.run, *args, **kwargs)

        cls._run_proxy = _run_proxy
        return cls

    return class_decorator


def with_subprocess(cls: type) -> type:
    """Give the job ``self.run_process(command, input=None) -> (exit_code, stdout, stderr)``.

    As in 0.18.1 the command runs through the shell (a list is joined with each word
    double-quoted); unlike 0.18.1, stdout and stderr come back as text, not bytes.
    """

    def run_process(self: Any, command: Any, input: str | bytes | None = None) -> tuple[int, str, str]:
        if isinstance(command, (tuple, list)):
            command = " ".join(f'"{word}"' for word in command)
        if isinstance(input, str):
            input = input.encode()
        import subprocess  # only jobs that use it pay for the import

        proc = subprocess.run(command, shell=True, input=input, capture_output=True)
        return (proc.returncode, proc.stdout.decode(errors="replace").strip(),
                proc.stderr.decode(errors="replace").strip())

    cls.run_process = run_process
    return cls


using_postgres = partial(with_transactional_resource,
                         "crontabber.connection_factory.ConnectionFactory",
                         "database", "resource.postgresql")
with_postgres_connection_as_argument = partial(with_resource_connection_as_argument, "database")
as_single_postgres_transaction = partial(with_single_transaction, "database")

# 0.18.1's backwards-compatible names.
with_postgres_transactions = using_postgres
with_single_postgres_transaction = as_single_postgres_transaction
