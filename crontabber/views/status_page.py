"""``crontabber status --html FILE``: one self-contained page of every job's state.

No script, no CDN, no network: inline CSS, the graph inline as SVG when Graphviz's
``dot`` is installed (else an indented dependency list saying how to get the
picture), and a Content-Security-Policy that forbids anything else. Every job name,
error, traceback and output is escaped. The layout folds into cards on a phone
(no horizontal scroll at 375 px). The Airflow plugin serves the same page live.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

from crontabber.timefmt import duration, relative
from crontabber.views import graph
from crontabber.views.snapshot import STATES, JobView, Snapshot

CSS = """
:root{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#212121}
body{margin:0 auto;padding:12px;max-width:1400px;background:#fafafa}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.15em;margin:1.2em 0 .4em}
header p,footer{color:#555}footer{margin-top:2em;font-size:.9em}
.counts span{display:inline-block;margin:0 .6em .3em 0}
.badge{display:inline-block;padding:0 .45em;border:1.5px solid;border-radius:.6em;white-space:nowrap}
.alert{border-left:4px solid #c62828;background:#fff3f3;padding:.4em .7em;margin:.4em 0}
.alert.warn{border-color:#e65100;background:#fff8ef}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;vertical-align:top;padding:.35em .5em;border-bottom:1px solid #e0e0e0}
th{background:#f0f0f0;font-weight:600;white-space:nowrap}
td,summary,p,li{overflow-wrap:break-word}
td.job{min-width:9em}td p{margin:0 0 .3em}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f6;
    padding:.5em;margin:.3em 0;max-height:24em;overflow-y:auto;font-size:.85em}
details summary{cursor:pointer}
.strip{display:flex;flex-wrap:wrap;gap:2px}
.run{display:inline-block;width:12px;height:16px;border-radius:2px;background:#bdbdbd}
.run.ok{background:#43a047}.run.failed{background:#e53935}.run.other{background:#fb8c00}
.muted{color:#757575}
.graph svg{max-width:100%;height:auto}
.graph ul{list-style:none;padding-left:1.2em;margin:.1em 0}.graph>ul{padding-left:0}
a{color:#0b57d0}
@media (max-width:760px){
 table.cards thead{display:none}
 table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:auto;min-width:0}
 table.cards tr{border:1px solid #e0e0e0;border-radius:6px;margin:0 0 .6em;padding:.2em .4em;background:#fff}
 table.cards td{border:0;padding:.15em 0;overflow-wrap:anywhere}
 table.cards td::before{content:attr(data-label) ": ";font-weight:600;color:#555}
 table.cards td.job::before,table.cards td.host::before{content:none}
 table.cards td.job,table.cards td.host{font-size:1.1em;font-weight:600}
}
"""
GRAPH_UNFOLDED_UP_TO = 40  # a bigger graph is a long picture: folded, so the table is near the top
POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def render(snapshots: Snapshot | Sequence[Snapshot], title: str = "crontabber",
           sections: Sequence[str] | None = None, refresh: int | None = 60, problems: Sequence[str] = ()) -> str:
    """The whole page for one snapshot (the CLI) or several (the Airflow plugin: one per configuration).

    ``sections`` names each snapshot's section (default: its configuration file); ``problems``
    are lines shown above them (a configuration that could not be read)."""
    shots = [snapshots] if isinstance(snapshots, Snapshot) else list(snapshots)
    names = list(sections) if sections is not None else [
        str(shot.settings.conf_path.name) if shot.settings.conf_path else "crontabber" for shot in shots]
    total = sum(len(shot.jobs) for shot in shots)
    head = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">',
        *([f'<meta http-equiv="refresh" content="{int(refresh)}">'] if refresh else []),
        f"<title>{escape(title)}: {total} jobs</title>", f"<style>{CSS}</style></head><body>",
    ]
    body = [f"<header><h1>{escape(title)}</h1></header>"]
    body += [f'<p class="alert problem">{escape(problem)}</p>' for problem in problems]
    for index, (shot, name) in enumerate(zip(shots, names)):
        body.append(_section(shot, name if len(shots) > 1 else "", f"s{index}"))
    now = shots[0].now if shots else dt.datetime.now(dt.timezone.utc)
    body.append(f"<footer>Generated {escape(_stamp(now, dt.timezone.utc))} by crontabber; "
                "this page never changes the ledger.</footer></body></html>")
    return "\n".join(head + body) + "\n"


def _section(shot: Snapshot, name: str, key: str) -> str:
    zone = shot.settings.timezone
    parts = [f'<section class="config" id="{key}">']
    if name:
        parts.append(f"<h2>{escape(name)}</h2>")
    counts = {state: sum(1 for view in shot.jobs if view.status == state) for state in STATES}
    badges = "".join(f"<span>{_badge(state)} {counts[state]}</span>" for state in STATES if counts[state])
    parts.append(f'<p class="counts">{len(shot.jobs)} jobs: {badges}</p>')
    parts.append(f'<p class="muted">Times in {escape(_zone_name(zone))}; ledger: {escape(shot.ledger)}</p>')
    parts.extend(_alerts(shot))
    unfolded = " open" if len(shot.jobs) <= GRAPH_UNFOLDED_UP_TO else ""
    parts.append(f'<h2 id="{key}-graph">Dependencies</h2><details class="dependencies"{unfolded}><summary>'
                 f"the graph of {len(shot.jobs)} jobs</summary>{_graph(shot)}</details>")
    parts.append(f'<h2 id="{key}-jobs">Jobs</h2>{_jobs_table(shot, key)}')
    parts.append(f'<h2 id="{key}-runners">Runner hosts</h2>{_runners(shot)}')
    parts.append("</section>")
    return "\n".join(parts)


def _alerts(shot: Snapshot) -> list[str]:
    alerts = []
    silent = [health for health in shot.runners if health.silent]
    for health in silent:
        level = "" if len(silent) == len(shot.runners) else " warn"
        alerts.append(f'<p class="alert{level} silent-host">Runner host <b>{escape(health.beat.host)}</b> has '
                      f"been silent for {escape(duration(health.quiet_for))} (silent after "
                      f"{escape(duration(health.silent_after))}): is cron still calling crontabber there? "
                      f"If the host was retired: <code>crontabber forget-host {escape(health.beat.host)}"
                      "</code></p>")
    for child, parent in shot.missing:
        alerts.append(f'<p class="alert warn">{escape(child)} depends on {escape(parent)}, which is not '
                      "configured: it never runs until that is fixed</p>")
    return alerts


def _graph(shot: Snapshot) -> str:
    if graph.dot_path() is not None:
        try:
            return f'<div class="graph">{graph.inline_svg(graph.to_dot(shot))}</div>'
        except Exception as exc:  # a broken Graphviz must not cost the operator the whole page
            note = f"Graphviz's dot failed ({' '.join(str(exc).split())[:200]}); the dependencies as a list:"
    else:
        note = f"{graph.INSTALL_DOT.split(':')[0]} on this host, so here are the dependencies as a list. " \
               "To see them as a picture: apt-get install graphviz (Debian, Ubuntu), dnf install graphviz " \
               "(Fedora, RHEL) or brew install graphviz (macOS), then regenerate this page."
    return f'<div class="graph"><p class="muted">{escape(note)}</p>{_tree(shot)}</div>'


def _tree(shot: Snapshot) -> str:
    """The jobs as an indented list: each job under each of its parents, roots first."""
    by_name = {view.name: view for view in shot.jobs}
    children: dict[str, list[JobView]] = {}
    for view in shot.jobs:
        for parent in view.job.depends_on:
            if parent in by_name and parent != view.name:
                children.setdefault(parent, []).append(view)

    def branch(view: JobView, seen: frozenset[str]) -> str:
        below = [child for child in children.get(view.name, []) if child.name not in seen]
        inner = "".join(branch(child, seen | {child.name}) for child in below)
        return (f'<li data-job="{escape(view.name)}">{_badge(view.status)} {escape(view.name)}'
                + (f"<ul>{inner}</ul>" if inner else "") + "</li>")

    roots = [view for view in shot.jobs if view.depth == 0]
    return "<ul>" + "".join(branch(view, frozenset({view.name})) for view in roots) + "</ul>"


def _jobs_table(shot: Snapshot, key: str) -> str:
    zone = shot.settings.timezone
    rows = ['<table class="jobs cards"><thead><tr><th>Job</th><th>State</th><th>Last success</th><th>Next run</th>'
            "<th>Errors</th><th>Runs on</th><th>Last runs</th><th>Details</th></tr></thead><tbody>"]
    for index, view in enumerate(shot.jobs):
        last, nxt = view.last_success, view.next_run
        cells = [
            ("job", "Job", f"<b>{escape(view.name)}</b><br><span class=\"muted\">"
                           f"{escape(view.job.entry.schedule_text)}</span>"),
            ("state", "State", _badge(view.status)),
            ("last-success", "Last success", _when(last, shot.now, zone)),
            ("next-run", "Next run", _when(nxt, shot.now, zone) if nxt or view.status != "on Airflow"
             else '<span class="muted">Airflow schedules it</span>'),
            ("errors", "Errors", str(view.error_count)),
            ("runs-on", "Runs on", _runs_on(view, zone)),
            ("last-runs", "Last runs", _strip(view, zone)),
            ("details", "Details", _details(view, shot.now, zone)),
        ]
        tds = "".join(f'<td class="{name}" data-label="{label}">{html}</td>' for name, label, html in cells)
        rows.append(f'<tr id="{key}-job-{index}" data-job="{escape(view.name)}" '
                    f'data-state="{escape(view.status)}">{tds}</tr>')
    rows.append("</tbody></table>")
    return "".join(rows)


def _badge(status: str, text: str | None = None) -> str:
    """A state word in its graph colours (``text`` instead of the word, for other labels)."""
    fill, border = graph.COLOURS.get(status, graph.MISSING)
    return (f'<span class="badge state" style="background:{fill};border-color:{border}">'
            f"{escape(status if text is None else text)}</span>")


def _runs_on(view: JobView, zone: dt.tzinfo) -> str:
    since = view.job.settings.on_airflow_since
    if view.runs_on == "cron":
        text = "cron"
        if since is not None:
            text += f" (moves to Airflow at {escape(_stamp(since, zone))})"
    else:
        text = f"{escape(view.runs_on)} since {escape(_stamp(since, zone))}" if since else escape(view.runs_on)
    if view.dag_url:
        text += f' <a href="{escape(view.dag_url)}" target="_top" rel="noopener">DAG</a>'
    if view.airflow_note:
        text += f'<br><span class="muted">{escape(view.airflow_note)}</span>'
    return text


def _strip(view: JobView, zone: dt.tzinfo) -> str:
    if not view.runs:
        return '<span class="muted">no runs recorded</span>'
    marks = []
    for run in reversed(view.runs):  # oldest first: the newest run is on the right
        kind = "ok" if run.ok else "failed" if run.outcome in ("failed", "timed_out") else "other"
        took = f", {duration(run.duration)}" if run.duration is not None else ""
        label = f"{_stamp(run.when, zone)}: {run.outcome}{took}"
        marks.append(f'<span class="run {kind}" title="{escape(label)}" aria-label="{escape(label)}"></span>')
    return f'<span class="strip">{"".join(marks)}</span>'


def _details(view: JobView, now: dt.datetime, zone: dt.tzinfo) -> str:
    parts = []
    if view.running_since is not None and view.status == "running":
        parts.append(f"<p>running since {escape(_stamp(view.running_since, zone))} "
                     f"({escape(relative(view.running_since, now))})</p>")
    error = view.error()
    if error is not None:
        kind, message, trace = error
        first = " ".join(message.split())
        summary = f"{kind}: {first[:300]}{'…' if len(first) > 300 else ''}"
        body = f"<pre>{escape(message)}</pre>" + (f"<pre>{escape(trace)}</pre>" if trace else "")
        parts.append(f'<details class="error"><summary>{escape(summary)}</summary>{body}</details>')
    if view.status == "waiting" and view.state is not None and view.state.skip_reason:
        parts.append(f'<p class="skip">waiting: {escape(view.state.skip_reason)}</p>')
    if view.last_output:
        parts.append(f'<details class="output"><summary>output of the last run</summary>'
                     f"<pre>{escape(view.last_output)}</pre></details>")
    return "".join(parts) or '<span class="muted">-</span>'


def _runners(shot: Snapshot) -> str:
    if not shot.runners:
        return '<p class="muted">No runner has ticked yet (each tick of <code>crontabber</code> records its host).</p>'
    zone = shot.settings.timezone
    rows = ['<table class="runners cards"><thead><tr><th>Host</th><th>Last tick</th><th>Took</th>'
            "<th>Silent after</th><th>Ticks</th></tr></thead><tbody>"]
    for health in shot.runners:
        beat = health.beat
        state = _badge("failing", "silent") + " " if health.silent else ""
        rows.append(f'<tr data-host="{escape(beat.host)}" data-silent="{str(health.silent).lower()}">'
                    f'<td class="host" data-label="Host">{escape(beat.host)}</td>'
                    f'<td data-label="Last tick">{state}{_when(beat.last_tick, shot.now, zone)}</td>'
                    f'<td data-label="Took">{escape(f"{beat.last_duration:.2f} s")}</td>'
                    f'<td data-label="Silent after">{escape(duration(health.silent_after))}</td>'
                    f'<td data-label="Ticks">{beat.ticks}</td></tr>')
    rows.append("</tbody></table>")
    return "".join(rows)


def _when(when: dt.datetime | None, now: dt.datetime, zone: dt.tzinfo) -> str:
    if when is None:
        return '<span class="muted">never</span>'
    return (f'<time datetime="{escape(when.isoformat())}">{escape(_stamp(when, zone))}</time> '
            f'<span class="muted">({escape(relative(when, now))})</span>')


def _stamp(when: dt.datetime, zone: dt.tzinfo) -> str:
    local = when.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or _zone_name(zone)}"


def _zone_name(zone: dt.tzinfo) -> str:
    return getattr(zone, "key", None) or str(zone)
