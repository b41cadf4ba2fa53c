"""Writing a view's file atomically, so a web server or the node exporter never reads half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from crontabber.errors import UsageError


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to a hidden temporary file beside ``path``, then rename it over ``path``.

    The temporary name starts with a dot and does not end in ``.prom`` or ``.html``, so
    neither the node exporter nor a directory listing picks it up half written."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc} (check that {folder} exists "
                         "and is writable by this user)") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)  # mkstemp makes it 0600; the web server or exporter must read it
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
