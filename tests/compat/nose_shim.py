"""The three corners of nose that crontabber 0.18.1's tests use (nose does not run on Python 3.10+).

``nose.tools.eq_``, ``ok_`` and ``assert_raises`` (also as a context manager) and the
``nose.plugins.attrib.attr`` decorator, installed under their nose names in ``sys.modules``.
"""

from __future__ import annotations

import sys
import types
import unittest
from typing import Any


def eq_(a: Any, b: Any, msg: str | None = None) -> None:
    """Fail unless ``a == b`` (nose's message when none is given)."""
    if not a == b:
        raise AssertionError(msg or f"{a!r} != {b!r}")


def ok_(expr: Any, msg: str | None = None) -> None:
    """Fail unless ``expr`` is true."""
    if not expr:
        raise AssertionError(msg)


assert_raises = unittest.TestCase().assertRaises


def attr(*names: str, **values: Any) -> Any:
    """Tag a test or class with attributes (nose selected tests by them; pytest does not need to)."""

    def tag(thing: Any) -> Any:
        for name in names:
            setattr(thing, name, True)
        for name, value in values.items():
            setattr(thing, name, value)
        return thing

    return tag


def install() -> None:
    """Make ``import nose.tools`` and ``from nose.plugins.attrib import attr`` find this module."""
    if "nose.tools" in sys.modules:
        return
    nose = types.ModuleType("nose")
    tools = types.ModuleType("nose.tools")
    plugins = types.ModuleType("nose.plugins")
    attrib = types.ModuleType("nose.plugins.attrib")
    tools.eq_, tools.ok_, tools.assert_raises = eq_, ok_, assert_raises
    attrib.attr = attr
    nose.tools, nose.plugins, plugins.attrib = tools, plugins, attrib
    sys.modules.update({"nose": nose, "nose.tools": tools, "nose.plugins": plugins,
                        "nose.plugins.attrib": attrib})
