"""Which ledger a configuration names, and why (``configtest`` says both).

In order: ``crontabber.database_url``; a connection class of the deployment's own named by
0.18.1's ``crontabber.database_class`` (or ``resource.postgresql.database_class``), used as
0.18.1 used it; the legacy ``resource.postgresql.*`` keys; and, for a new-style file only,
the embedded SQLite file beside the configuration. A 0.18.1-style file (a ``[resource]``
section, even with every key commented out, or a 0.18.1 class option) from which no
PostgreSQL database can be derived is an error: 0.18.1's own factory with every key at its
default builds a DSN that cannot connect, and a fresh SQLite ledger would silently start
every job over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from crontabber.errors import ConfigError
from crontabber.state import Ledger, open_ledger, redact_url

DEFAULT_FACTORY = "crontabber.connection_factory.ConnectionFactory"
DEFAULT_EXECUTOR = "crontabber.transaction_executor.TransactionExecutor"
POSTGRES_KEYS = ("host", "port", "dbname", "user", "password")
LEGACY_CLASS_KEYS = ("crontabber.database_class", "crontabber.transaction_executor_class",
                     "crontabber.job_state_db_class", "resource.postgresql.database_class",
                     "resource.postgresql.transaction_executor_class")
FIX = ("set crontabber.database_url = postgresql://user@host:5432/dbname (or the resource.postgresql "
       "host, dbname and user keys), or database_url = sqlite:///path to start an embedded ledger")


@dataclass(frozen=True)
class LedgerChoice:
    """Where the ledger is (``url``, or a deployment's connection class) and why."""

    url: str
    why: str
    factory: Callable[[], Ledger] | None = field(default=None, compare=False)
    class_name: str = ""

    @property
    def name(self) -> str:
        """The ledger, safe to print (no password)."""
        return redact_url(self.url) if self.url else f"PostgreSQL via {self.class_name}"

    def open(self, read_only: bool = False, group_access: bool = False) -> Ledger:
        """Connect (``read_only``: never create or upgrade tables; a deployment's own connection
        class has no such mode, and the views that ask for it only read)."""
        if self.factory is not None:
            return self.factory()
        return open_ledger(self.url, read_only=read_only, group_access=group_access)


def class_ledger(namespace: Any, factory_class: type, executor_class: type | None, why: str) -> LedgerChoice:
    """The ledger through ``factory_class(namespace)`` and ``executor_class(namespace, factory)``."""
    name = f"{factory_class.__module__}.{factory_class.__qualname__}"

    def open_it() -> Ledger:
        from crontabber.state.factory_ledger import FactoryLedger

        try:
            factory = factory_class(namespace)
            executor = executor_class(namespace, factory) if executor_class is not None else None
        except Exception as exc:
            raise ConfigError(f"{why}: {name}(config) failed: {type(exc).__name__}: {exc}") from exc
        ledger = FactoryLedger(factory, executor, name, _secrets(namespace))
        ledger.open()
        return ledger

    return LedgerChoice("", why, open_it, name)


def from_app_config(namespace: Any) -> LedgerChoice:
    """The ledger of a 0.18.1-style application (``crontabber.app.CronTabberBase``): its
    ``database_url`` when set, else its ``database_class`` and ``transaction_executor_class``."""
    url = str(namespace.get("database_url") or "").strip()
    if url:
        return LedgerChoice(url, "crontabber.database_url")
    factory_class = namespace.get("database_class")
    if not isinstance(factory_class, type):
        raise ConfigError(f"crontabber.database_class is {factory_class!r}, not a class: {FIX}")
    path = f"{factory_class.__module__}.{factory_class.__qualname__}"
    defaults = {"host": "localhost", "port": "5432", "dbname": "", "user": "", "password": ""}
    if path == DEFAULT_FACTORY and all(str(namespace.get(key) or "") == value for key, value in defaults.items()):
        raise ConfigError("crontabber.database_class is 0.18.1's ConnectionFactory with every key at its "
                          f"default, which cannot connect: {FIX}")
    executor_class = namespace.get("transaction_executor_class")
    return class_ledger(namespace, factory_class, executor_class, f"crontabber.database_class = {path}")


def from_ini(get: Callable[[str], Any], source: Callable[[str], str | None], section_lines: Mapping[str, int],
             conf_path: Path | None, classes: Mapping[str, tuple[type, str]] | None = None,
             namespace: Any = None) -> LedgerChoice:
    """The ledger of the ``crontabber`` command's configuration. ``get``/``source`` read a value and
    say where it was set; ``classes`` holds an imported deployment class and its key by role."""
    url = str(get("crontabber.database_url") or "").strip()
    if url:
        return LedgerChoice(url, f"crontabber.database_url, {source('crontabber.database_url')}")
    if classes and "database_class" in classes:
        factory_class, key = classes["database_class"]
        executor = classes.get("transaction_executor_class")
        return class_ledger(_with_logger(namespace), factory_class, executor[0] if executor else None,
                            f"{key} = {factory_class.__module__}.{factory_class.__qualname__}, {source(key)}")
    keys: dict[str, str] = {}
    set_at: list[str] = []
    for key in POSTGRES_KEYS:  # crontabber.<key> first, as 0.18.1's ledger read it, else resource.postgresql's
        name = next((name for name in (f"crontabber.{key}", f"resource.postgresql.{key}") if source(name)),
                    f"resource.postgresql.{key}")
        keys[key] = str(get(name) or "").strip()
        set_at += [where] if (where := source(name)) else []
    if set_at:
        return LedgerChoice(_legacy_url(keys), f"0.18.1's PostgreSQL keys, {set_at[0]}")
    legacy = _legacy_marker(source, section_lines, conf_path)
    if legacy:
        raise ConfigError(f"{legacy}: a crontabber 0.18.1 configuration that names no PostgreSQL database "
                          f"(0.18.1 would connect with an empty database name and user, and fail): {FIX}")
    folder = conf_path.parent if conf_path else Path.cwd()
    return LedgerChoice(f"sqlite:///{(folder / 'crontabber.sqlite').resolve()}",
                        "the embedded default: no database_url and no 0.18.1 [resource] section")


def _legacy_marker(source: Callable[[str], str | None], section_lines: Mapping[str, int],
                   conf_path: Path | None) -> str | None:
    """Where the configuration shows it was written for 0.18.1, or None."""
    for section in ("resource", "resource.postgresql"):
        if section in section_lines:
            return f"{conf_path}:{section_lines[section]} ([{section.split('.')[-1]}] section)"
    for key in LEGACY_CLASS_KEYS:
        where = source(key)
        if where:
            return f"{where} ({key})"
    return None


def _legacy_url(keys: Mapping[str, str]) -> str:
    auth = quote(keys["user"], safe="")
    if keys["password"]:
        auth += ":" + quote(keys["password"], safe="")
    host = keys["host"] or "localhost"
    if host.startswith("/"):  # a Unix socket folder
        host = quote(host, safe="")
    elif ":" in host and not host.startswith("["):  # an IPv6 address
        host = f"[{host}]"
    dbname = quote(keys["dbname"], safe="")
    return f"postgresql://{auth + '@' if auth else ''}{host}:{keys['port'] or 5432}/{dbname}"


def _secrets(namespace: Any) -> list[str]:
    """Values of the namespace's password-like keys, to keep them out of error lines."""
    try:
        items = list(namespace.items())
    except AttributeError:
        return []
    return [str(value) for key, value in items if "password" in str(key).lower() and value]


def _with_logger(namespace: Any) -> Any:
    """0.18.1 handed the classes a configuration with ``logger``: give them the runner's."""
    from configman.dotdict import DotDictWithAcquisition

    child = DotDictWithAcquisition()
    child.__dict__["_parent"] = namespace  # acquisition without listing _parent as a key
    child["logger"] = logging.getLogger("crontabber")
    return child
