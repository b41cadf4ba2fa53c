"""``graph``, ``status``, ``metrics`` and ``forget-host``: parse what is left and delegate to ``views``."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TextIO

from crontabber.cli.commands import _ledger, _settings
from crontabber.clock import SystemClock
from crontabber.config.settings import Settings
from crontabber.errors import UsageError
from crontabber.state import Ledger, open_ledger


@contextlib.contextmanager
def _reading(settings: Settings) -> Iterator[Ledger]:
    """The ledger opened read-only: the views never create, upgrade or write anything."""
    ledger = open_ledger(settings.database_url, read_only=True)
    try:
        yield ledger
    finally:
        ledger.close()


def graph(args: argparse.Namespace, overrides: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from crontabber.views import graph as draw
    from crontabber.views import snapshot
    from crontabber.views.files import write_atomically

    fmt = args.format or _format_of(args.output) or "dot"
    if fmt not in ("dot", "mermaid", "svg", "png"):
        raise UsageError(f"graph --format {fmt}: use dot, mermaid, svg or png")
    if fmt == "png" and not args.output:
        raise UsageError("graph --format png needs --output FILE.png")
    settings = _settings(args, overrides, err)
    with _reading(settings) as ledger:
        shot = snapshot.read(settings, ledger, SystemClock().now(), args.airflow_url, with_logs=False)
    text = draw.to_mermaid(shot, args.cluster) if fmt == "mermaid" else draw.to_dot(shot, args.cluster)
    data = draw.render(text, fmt) if fmt in ("svg", "png") else text.encode("utf-8")
    if args.output:
        write_atomically(Path(args.output), data)
    elif out is sys.stdout:
        sys.stdout.buffer.write(data)
    else:
        out.write(data.decode("utf-8"))
    return 0


def _format_of(output: str | None) -> str | None:
    suffix = Path(output).suffix.lower() if output else ""
    return {".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".svg": "svg", ".png": "png"}.get(suffix)


def status(args: argparse.Namespace, overrides: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from crontabber.views import snapshot, status_page
    from crontabber.views.files import write_atomically

    if not args.html:
        raise UsageError("status needs --html FILE (the page to write)")
    settings = _settings(args, overrides, err)
    with _reading(settings) as ledger:
        shot = snapshot.read(settings, ledger, SystemClock().now(), args.airflow_url)
    write_atomically(Path(args.html), status_page.render(shot).encode("utf-8"))
    return 0


def metrics(args: argparse.Namespace, overrides: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from crontabber.views import metrics as prometheus
    from crontabber.views import snapshot
    from crontabber.views.files import write_atomically

    settings = _settings(args, overrides, err)
    with _reading(settings) as ledger:
        shot = snapshot.read(settings, ledger, SystemClock().now())
    text = prometheus.render(shot)
    if not args.textfile:
        out.write(text)
        return 0
    folder = Path(args.textfile)
    if not folder.is_dir():
        raise UsageError(f"metrics --textfile {folder}: not a folder (the node exporter's "
                         "--collector.textfile.directory)")
    write_atomically(folder / prometheus.FILE_NAME, text.encode("utf-8"))
    return 0


def forget_host(args: argparse.Namespace, overrides: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    if len(args.args) != 1:
        raise UsageError("forget-host needs one runner host name: crontabber forget-host HOST")
    host = args.args[0]
    settings = _settings(args, overrides, err)
    with _ledger(settings) as ledger:
        known = [beat.host for beat in ledger.runners()]
        if host not in known:
            raise UsageError(f"no runner host {host!r} in the heartbeat table (known: {', '.join(known) or 'none'})")
        ledger.forget_runner(host)
    out.write(f"{host}: forgotten; it is no longer watched (its next tick, if any, brings it back)\n")
    return 0
