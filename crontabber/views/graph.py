"""``crontabber graph``: the job dependency graph as DOT or Mermaid text, or SVG/PNG through Graphviz.

Edges run from parent to child; nodes are coloured by the state word of ``crontabber
list``. To stay readable with hundreds of jobs, jobs of one dependency depth share a
rank (left to right) and are grouped in clusters by where they run or by tag. Job
names are hostile text: every one is escaped for the language it lands in.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable

from crontabber.errors import UsageError
from crontabber.views.snapshot import JobView, Snapshot

# state word -> (fill, border); the status page uses the same colours
COLOURS = {
    "ok": ("#c8e6c9", "#2e7d32"),
    "failing": ("#ffcdd2", "#c62828"),
    "waiting": ("#ffe0b2", "#e65100"),
    "running": ("#bbdefb", "#1565c0"),
    "never run": ("#eeeeee", "#616161"),
    "on Airflow": ("#e1bee7", "#6a1b9a"),
}
MISSING = ("#ffffff", "#9e9e9e")  # a dependency that is not configured
INSTALL_DOT = ("Graphviz's dot is not installed: apt-get install graphviz (Debian, Ubuntu), "
               "dnf install graphviz (Fedora, RHEL) or brew install graphviz (macOS); "
               "or use --format dot or --format mermaid")


class GraphvizMissing(UsageError):
    """``dot`` is needed for SVG or PNG and is not on PATH."""


def cluster_of(view: JobView, how: str) -> str:
    """The cluster a job is drawn in: where it runs, its first tag, or none ("")."""
    if how == "runs-on":
        return "Airflow" if view.runs_on.startswith("Airflow") else "cron"
    if how == "tag":
        return view.job.settings.tags[0] if view.job.settings.tags else "untagged"
    return ""


def _dot_id(text: str) -> str:
    """A quoted DOT ID (only ``"`` is special in an ID; a trailing backslash would escape it)."""
    clean = "".join(" " if ord(ch) < 32 else ch for ch in text)
    return '"' + clean.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_text(*lines: str) -> str:
    """A quoted DOT escString of ``lines`` (labels read ``\\n``, ``\\N``...: every backslash is escaped)."""
    return "\\n".join(_dot_id(line)[1:-1] for line in lines).join('""')


def to_dot(snapshot: Snapshot, cluster: str = "runs-on") -> str:
    """The graph as Graphviz DOT text."""
    lines = ["digraph crontabber {", '  graph [rankdir=LR, newrank=true, nodesep=0.25, ranksep=0.6, '
             'fontname="Helvetica", fontsize=11, tooltip="crontabber jobs"];',
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, penwidth=1.6];',
             '  edge [color="#555555", arrowsize=0.7];']
    groups: dict[str, list[JobView]] = {}
    for view in snapshot.jobs:
        groups.setdefault(cluster_of(view, cluster), []).append(view)
    for index, (name, views) in enumerate(sorted(groups.items())):
        indent = "  "
        if name:
            lines.append(f"  subgraph cluster_{index} {{")
            lines.append(f'    graph [label={_dot_text(name)}, style="rounded,dashed", color="#9e9e9e", '
                         'fontcolor="#424242"];')
            indent = "    "
        lines.extend(indent + _dot_node(view) for view in views)
        if name:
            lines.append("  }")
    configured = {view.name for view in snapshot.jobs}
    for parent in sorted({parent for _, parent in snapshot.missing}):
        fill, border = MISSING
        lines.append(f"  {_dot_id(parent)} [label={_dot_text(parent, 'not configured')}, "
                     f'style="rounded,dashed", fillcolor="{fill}", color="{border}"];')
    for view in snapshot.jobs:
        for parent in view.job.depends_on:
            if parent != view.name:
                style = "" if parent in configured else ' [style=dashed, color="#9e9e9e"]'
                lines.append(f"  {_dot_id(parent)} -> {_dot_id(view.name)}{style};")
    for _depth, names in sorted(_ranks(snapshot.jobs).items()):
        if len(names) > 1:
            lines.append("  { rank=same; " + " ".join(_dot_id(name) for name in names) + " }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_node(view: JobView) -> str:
    fill, border = COLOURS[view.status]
    attrs = [f"label={_dot_text(view.name, view.status)}", f'fillcolor="{fill}"', f'color="{border}"',
             f"tooltip={_dot_text(f'{view.name}: {view.status}, schedule {view.job.entry.schedule_text}')}"]
    if view.dag_url:
        attrs += [f"URL={_dot_text(view.dag_url)}", 'target="_top"']
    return f"{_dot_id(view.name)} [{', '.join(attrs)}];"


def _ranks(views: Iterable[JobView]) -> dict[int, list[str]]:
    ranks: dict[int, list[str]] = {}
    for view in views:
        ranks.setdefault(view.depth, []).append(view.name)
    return ranks


def _mermaid_text(text: str) -> str:
    """Mermaid label text: anything but plain letters, digits and a few marks as ``#code;``."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in " _.:-") else f"#{ord(ch)};" for ch in text)


def _mermaid_class(status: str) -> str:
    return status.replace(" ", "_").lower()


def to_mermaid(snapshot: Snapshot, cluster: str = "runs-on") -> str:
    """The graph as a Mermaid flowchart (GitHub and GitLab render it in Markdown)."""
    ids = {view.name: f"j{index}" for index, view in enumerate(snapshot.jobs)}
    for index, parent in enumerate(sorted({parent for _, parent in snapshot.missing})):
        ids.setdefault(parent, f"m{index}")
    lines = ["flowchart LR"]
    lines += [f"  classDef {_mermaid_class(status)} fill:{fill},stroke:{border},color:#000"
              for status, (fill, border) in COLOURS.items()]
    lines.append(f"  classDef missing fill:{MISSING[0]},stroke:{MISSING[1]},stroke-dasharray:4 3,color:#000")
    groups: dict[str, list[JobView]] = {}
    for view in snapshot.jobs:
        groups.setdefault(cluster_of(view, cluster), []).append(view)
    for index, (name, views) in enumerate(sorted(groups.items())):
        indent = "  "
        if name:
            lines.append(f'  subgraph c{index}["{_mermaid_text(name)}"]')
            indent = "    "
        for view in views:
            label = f"{_mermaid_text(view.name)}<br/>{_mermaid_text(view.status)}"
            lines.append(f'{indent}{ids[view.name]}["{label}"]:::{_mermaid_class(view.status)}')
        if name:
            lines.append("  end")
    configured = {view.name for view in snapshot.jobs}
    for parent in sorted({parent for _, parent in snapshot.missing}):
        lines.append(f'  {ids[parent]}["{_mermaid_text(parent)}<br/>not configured"]:::missing')
    for view in snapshot.jobs:
        for parent in view.job.depends_on:
            if parent != view.name:
                arrow = "-->" if parent in configured else "-.->"
                lines.append(f"  {ids[parent]} {arrow} {ids[view.name]}")
    return "\n".join(lines) + "\n"


def dot_path() -> str | None:
    """Where Graphviz's ``dot`` is, or None."""
    return shutil.which("dot")


def render(dot_text: str, fmt: str) -> bytes:
    """DOT text -> ``svg`` or ``png`` bytes through Graphviz (GraphvizMissing without it)."""
    dot = dot_path()
    if dot is None:
        raise GraphvizMissing(INSTALL_DOT)
    done = subprocess.run([dot, f"-T{fmt}"], input=dot_text.encode("utf-8"), capture_output=True, timeout=120)
    if done.returncode != 0:
        detail = " ".join(done.stderr.decode("utf-8", "replace").split())[:300]
        raise UsageError(f"Graphviz's dot failed (exit {done.returncode}): {detail}")
    return done.stdout


def inline_svg(dot_text: str) -> str:
    """The SVG element alone (no XML prolog or DOCTYPE), to put inside an HTML page."""
    svg = render(dot_text, "svg").decode("utf-8")
    return svg[svg.index("<svg"):]
