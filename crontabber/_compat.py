"""Make configman 1.3.0 importable on Python 3.10+.

configman 1.3.0 (the last release) still reads ``collections.MutableSet`` and
friends, which moved to ``collections.abc`` in Python 3.3 and left
``collections`` in 3.10. Putting the aliases back is all it needs. This runs
when any crontabber module is imported and from the pytest plugin, because
Socorro-style job modules import configman before they import crontabber.
"""

from __future__ import annotations

import collections
import collections.abc

_ALIASES = ("Mapping", "MutableMapping", "Sequence", "MutableSequence",
            "Set", "MutableSet", "Callable", "Iterable", "Hashable", "Sized")


def apply() -> None:
    """Restore the ``collections`` ABC aliases configman 1.3.0 expects."""
    for name in _ALIASES:
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))


apply()
