"""Typed access to configman's resolved values: a conversion error names where the value came from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crontabber.config.sources import Sources
from crontabber.errors import ConfigError
from crontabber.schedule import ScheduleError


class Reader:
    """Typed access to resolved values; a conversion error names the value's source."""

    def __init__(self, config: Any, sources: Sources) -> None:
        self.config = config
        self.sources = sources
        self.read: list[str] = []

    def raw(self, key: str) -> Any:
        node = self.config
        for part in key.split("."):
            node = node[part]
        return node

    def maybe(self, key: str) -> Any:
        """The value of ``key``, or None when the configuration has no such option."""
        try:
            return self.raw(key)
        except (KeyError, AttributeError):
            return None

    def source(self, key: str) -> str:
        return self.sources.of(key) or "default"

    def value(self, key: str) -> Any:
        """The value of ``key``, or "" when configman has no such option."""
        try:
            return self.get(key)
        except KeyError:
            return ""

    def get(self, key: str, convert: Callable[[Any], Any] | None = None) -> Any:
        self.read.append(key)
        value = self.raw(key)
        if convert is None:
            return value
        try:
            return convert(value)
        except (ValueError, TypeError, ScheduleError) as exc:
            raise ConfigError(f"{self.source(key)}: {key} = {value!r}: {exc}") from None
