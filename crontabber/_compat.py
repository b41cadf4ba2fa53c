"""Make configman 1.3.0 importable on Python 3.10+.

configman 1.3.0 (the last release) still reads ``collections.MutableSet`` and
friends, which moved to ``collections.abc`` in Python 3.3 and left
``collections`` in 3.10. Putting the aliases back is all it needs to import. This
runs when any crontabber module is imported and from the pytest plugin, because
Socorro-style job modules import configman before they import crontabber.

It also keeps alive the stand-in parents ``DotDictWithAcquisition['a.b.c']`` makes for
missing ``a`` and ``a.b``: configman holds them only by weak reference, so on CPython 3 the
lookup raised ReferenceError instead of KeyError (0.18.1's ``generic_app.environment`` is such
a dict, and configman looks ``resource.postgresql.*`` keys up in it).
"""

from __future__ import annotations

import collections
import collections.abc
import sys
from typing import Any

_ALIASES = ("Mapping", "MutableMapping", "Sequence", "MutableSequence",
            "Set", "MutableSet", "Callable", "Iterable", "Hashable", "Sized")


def apply() -> None:
    """Restore the ``collections`` ABC aliases configman 1.3.0 expects; fix acquisition lookups as
    soon as ``configman.dotdict`` is imported (now, if it already is; else by an import hook, so
    importing crontabber does not import configman: a tick served from the cache never needs it)."""
    for name in _ALIASES:
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))
    dotdict = sys.modules.get("configman.dotdict")
    if dotdict is not None:
        _fix(dotdict)
    elif not any(isinstance(finder, _PatchOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())


def _fix(dotdict: Any) -> None:
    if not getattr(dotdict.DotDictWithAcquisition.__getitem__, "_crontabber_fixed", False):
        dotdict.DotDictWithAcquisition.__getitem__ = _acquiring_getitem


class _PatchOnImport:
    """A ``sys.meta_path`` finder: fix ``configman.dotdict`` right after it executes, whoever imports
    it first (a plain class: importing ``importlib.abc`` would cost a tick ~30 ms)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "configman.dotdict":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _FixingLoader(spec.loader)
                return spec
        return None


class _FixingLoader:
    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        _fix(module)


def _acquiring_getitem(self, key):  # type: ignore[no-untyped-def]
    """configman's ``DotDictWithAcquisition.__getitem__``, with the stand-in parents kept alive."""
    import weakref

    from configman.dotdict import DotDictWithAcquisition

    parts = key.split(".")
    current, keep = self, []
    for index, part in enumerate(parts):
        try:
            current = getattr(current, part)
        except KeyError:
            if index == len(parts) - 1:
                raise
            stand_in = DotDictWithAcquisition()
            stand_in.__dict__["_parent"] = weakref.proxy(current)
            keep.append(current)
            current = stand_in
    return current


_acquiring_getitem._crontabber_fixed = True  # type: ignore[attr-defined]


apply()
