"""Seeing the jobs (issue 13): the graph, the status page and the metrics for the example jobs in
every state, opened in a real headless Chromium and parsed with Prometheus' own parser.

``CRONTABBER_UPDATE_DOCS=1`` also rewrites the pictures in docs/images from these renders.
"""

from __future__ import annotations

import dataclasses
import io
import os
import threading
from pathlib import Path

import pytest

from crontabber.cli.main import main
from crontabber.views import graph, metrics, snapshot, status_page
from crontabber.views.files import write_atomically
from tests import example_states as ex
from tests.browser import Browser

DOCS_IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"
UPDATE_DOCS = os.environ.get("CRONTABBER_UPDATE_DOCS") == "1"
# Every row of the jobs table as the reader sees it (the Airflow plugin test reads its page the same way)
ROWS = """[...document.querySelectorAll('table.jobs tbody tr')].map(tr => ({
        job: tr.querySelector('td.job b').textContent, data: tr.dataset.job,
        state: tr.querySelector('td.state').textContent,
        colour: getComputedStyle(tr.querySelector('td.state .badge')).backgroundColor,
        errors: tr.querySelector('td.errors').textContent,
        next: tr.querySelector('td.next-run').textContent,
        success: tr.querySelector('td.last-success').textContent,
        runsOn: tr.querySelector('td.runs-on').textContent,
        marks: [...tr.querySelectorAll('td.last-runs .run')].map(m => m.className + ' ' + m.title),
        error: (tr.querySelector('details.error summary') || {}).textContent || null,
        folded: [...tr.querySelectorAll('details')].every(d => !d.open),  // errors and output start folded
        traceback: [...tr.querySelectorAll('details.error pre')].map(p => p.textContent).join('\\n'),
        output: (tr.querySelector('details.output pre') || {}).textContent || null,
        skip: (tr.querySelector('.skip') || {}).textContent || null,
        link: (tr.querySelector('td.runs-on a') || {}).href || null,
        section: tr.closest('section').id}))"""


@pytest.fixture(scope="module")
def browser():
    with Browser() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    harness = ex.build(tmp_path_factory.mktemp("states"))
    yield snapshot.read(harness.settings, harness.ledger, ex.NOW)
    harness.close()


def test_every_state_word_is_lists(shot):
    assert {view.name: view.status for view in shot.jobs} == ex.EXPECTED
    assert [runner.beat.host for runner in shot.runners] == ["cron-host-1"]


def test_dot_and_mermaid_text(shot):
    dot = graph.to_dot(shot)
    assert '"hello" -> "after-hello";' in dot
    fill, border = graph.COLOURS["failing"]
    assert f'"always-fails" [label="always-fails\\nfailing", fillcolor="{fill}", color="{border}"' in dot
    assert "subgraph cluster_0" in dot and '[label="Airflow"' in dot and '[label="cron"' in dot
    assert '{ rank=same; "always-fails"' in dot  # the roots share the first rank
    mermaid = graph.to_mermaid(shot)
    assert mermaid.startswith("flowchart LR\n") and "classDef never_run fill:#eeeeee" in mermaid
    hostile_line = next(line for line in mermaid.splitlines() if ":::failing" in line and "#60;" in line)
    assert "<script" not in hostile_line and '"' not in hostile_line.split('["', 1)[1].rsplit('"]', 1)[0]


def test_graph_svg_nodes_and_colours_in_chromium(shot, browser, tmp_path):
    svg_path = tmp_path / "graph.svg"
    svg_path.write_bytes(graph.render(graph.to_dot(shot), "svg"))
    browser.open(svg_path.as_uri())
    nodes = browser.evaluate("""[...document.querySelectorAll('g.node')].map(g => ({
        title: g.querySelector('title').textContent,
        fill: (g.querySelector('path, polygon') || {}).getAttribute('fill'),
        label: [...g.querySelectorAll('text')].map(t => t.textContent)}))""")
    by_title = {node["title"]: node for node in nodes}
    for name, status in ex.EXPECTED.items():
        title = name.replace("\\", "\\\\")  # DOT keeps the escape in a quoted ID, as written
        assert by_title[title]["fill"] == graph.COLOURS[status][0], name
        assert by_title[title]["label"] == [name, status]
    edges = browser.evaluate("[...document.querySelectorAll('g.edge title')].map(t => t.textContent)")
    assert "hello->after-hello" in edges and len(edges) == 2
    assert browser.evaluate("document.querySelectorAll('script').length") == 0
    if UPDATE_DOCS:
        DOCS_IMAGES.mkdir(exist_ok=True)
        (DOCS_IMAGES / "example-jobs.svg").write_bytes(graph.render(graph.to_dot(_examples_only(shot)), "svg"))


def _examples_only(shot):
    """The snapshot without the hostile job, for the pictures in docs/."""
    return dataclasses.replace(shot, jobs=[view for view in shot.jobs if view.name != ex.HOSTILE],
                               ledger="SQLite ledger /var/lib/crontabber/crontabber.sqlite")


def _page(shot, tmp_path: Path) -> Path:
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "status.html"
    write_atomically(path, status_page.render(shot, refresh=None).encode())
    return path


def test_status_page_rows_in_chromium(shot, browser, tmp_path):
    browser.open(_page(shot, tmp_path).as_uri())
    rows = browser.evaluate(ROWS)
    by_job = {row["job"]: row for row in rows}
    assert [row["job"] for row in rows] == [view.name for view in shot.jobs]
    assert {name: row["state"] for name, row in by_job.items()} == ex.EXPECTED
    assert all(row["data"] == row["job"] and row["folded"] for row in rows)
    assert by_job["always-fails"]["colour"] == "rgb(255, 205, 210)"  # #ffcdd2, the graph's fill
    assert by_job["always-fails"]["errors"] == "3"
    assert by_job["always-fails"]["error"] == "RuntimeError: this example job always fails"
    assert 'raise RuntimeError("this example job always fails")' in by_job["always-fails"]["traceback"]
    assert [mark.split()[:2] for mark in by_job["always-fails"]["marks"]] == [["run", "failed"]] * 3
    assert by_job["hello"]["marks"][-1].startswith("run ok 2026-01-05 12:45 CET: succeeded")
    assert len(by_job["hello"]["marks"]) == 4
    assert by_job["weekday-digest"]["next"].startswith("2026-01-06 08:30 CET")  # the configured zone
    assert by_job["weekday-digest"]["success"] == "never"
    assert by_job["after-hello"]["skip"] == "waiting: 'hello' hasn't recently run (it was due 2026-01-05 11:50 UTC)"
    assert by_job["nightly-cleanup"]["runsOn"].startswith("Airflow since 2026-01-04 12:30 CET")
    assert "recorded by Airflow only" in by_job["nightly-cleanup"]["runsOn"]
    hostile = by_job[ex.HOSTILE]
    assert hostile["error"].startswith('ValueError: <b onmouseover="alert(2)">bold</b> | pipe second line')
    assert hostile["output"] == '<img src=x onerror=alert(1)>\n</pre><b>"output"</b>'
    assert browser.evaluate("document.querySelectorAll('script, img, b[onmouseover]').length") == 0
    assert browser.evaluate("document.querySelector('.counts').textContent") == \
        "7 jobs: ok 1failing 2waiting 1running 1never run 1on Airflow 1"
    assert browser.evaluate("document.querySelectorAll('svg g.node').length") == 7
    assert browser.evaluate("document.querySelector('tr[data-host]').dataset.silent") == "true"
    assert "forget-host cron-host-1" in browser.evaluate("document.querySelector('.silent-host').textContent")


def test_status_page_fits_a_phone(shot, browser, tmp_path):
    page = _page(shot, tmp_path)
    browser.open(page.as_uri(), width=375, height=812)
    widths = browser.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth,"
                              " document.body.scrollWidth]")
    assert widths[0] <= 375 and widths[2] <= 375, widths
    assert browser.evaluate("getComputedStyle(document.querySelector('table.jobs thead')).display") == "none"
    if UPDATE_DOCS:
        docs_page = _page(_examples_only(shot), tmp_path / "docs")
        browser.open(docs_page.as_uri(), width=375, height=812)
        browser.screenshot(DOCS_IMAGES / "status-page-phone.png")
        browser.open(docs_page.as_uri(), width=1280, height=900)
        browser.screenshot(DOCS_IMAGES / "status-page.png")


def test_without_dot_the_page_lists_the_dependencies(shot, browser, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot here
    assert graph.dot_path() is None
    browser.open(_page(shot, tmp_path).as_uri())
    assert browser.evaluate("document.querySelectorAll('svg').length") == 0
    note = browser.evaluate("document.querySelector('.graph p').textContent")
    assert "apt-get install graphviz" in note
    nested = browser.evaluate("[...document.querySelectorAll('.graph li li')].map(li => li.dataset.job)")
    assert sorted(nested) == sorted(["after-hello", ex.HOSTILE])
    with pytest.raises(graph.GraphvizMissing, match="apt-get install graphviz"):
        graph.render(graph.to_dot(shot), "svg")


def test_metrics_parse_with_the_prometheus_parser(shot):
    from prometheus_client.parser import text_string_to_metric_families

    text = metrics.render(shot)
    samples = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge" and family.name.startswith("crontabber_")
        for sample in family.samples:
            key = sample.labels.get("job") or sample.labels.get("host")
            samples[(sample.name, key)] = sample.value
    hello = next(view for view in shot.jobs if view.name == "hello")
    assert samples[("crontabber_job_last_success_timestamp_seconds", "hello")] == hello.last_success.timestamp()
    assert samples[("crontabber_job_last_success_timestamp_seconds", "always-fails")] == 0
    assert samples[("crontabber_job_consecutive_errors", "always-fails")] == 3
    assert samples[("crontabber_job_consecutive_errors", ex.HOSTILE)] == 4  # the label survives escaping
    assert samples[("crontabber_job_overdue_seconds", "hello")] == 20 * 60
    assert samples[("crontabber_job_overdue_seconds", "daily-report")] == 0
    assert samples[("crontabber_job_running", "daily-report")] == 1
    assert samples[("crontabber_job_running", "hello")] == 0
    assert samples[("crontabber_job_on_airflow", "nightly-cleanup")] == 1
    assert samples[("crontabber_job_last_duration_seconds", "hello")] >= 0
    assert samples[("crontabber_runner_last_tick_timestamp_seconds", "cron-host-1")] == \
        (ex.START + ex.dt.timedelta(minutes=15)).timestamp()
    assert samples[("crontabber_runner_silent", "cron-host-1")] == 1
    assert samples[("crontabber_runner_silent_after_seconds", "cron-host-1")] == 15 * 60


def test_the_commands_write_their_files(tmp_path):
    (tmp_path / "ledger").mkdir()
    harness = ex.build(tmp_path / "ledger")
    conf = f"--admin.conf={harness.ini_path}"
    out, err = io.StringIO(), io.StringIO()
    assert main(["graph", conf], out=out, err=err) == 0, err.getvalue()
    assert out.getvalue().startswith("digraph crontabber {")
    out = io.StringIO()
    assert main(["graph", "--format", "mermaid", "--cluster", "tag", conf], out=out, err=err) == 0
    assert 'subgraph c0["untagged"]' in out.getvalue()
    assert main(["graph", "-o", str(tmp_path / "jobs.png"), conf], out=out, err=err) == 0
    assert (tmp_path / "jobs.png").read_bytes().startswith(b"\x89PNG")
    assert main(["graph", "--format", "png", conf], out=out, err=err) == 2
    assert main(["list", "--format", "svg", conf], out=out, err=err) == 2
    assert main(["status", "--html", str(tmp_path / "www" / "index.html"), conf], out=out, err=err) == 2
    assert "check that" in err.getvalue()
    (tmp_path / "www").mkdir()
    assert main(["status", "--html", str(tmp_path / "www" / "index.html"), conf], out=out, err=err) == 0
    page = tmp_path / "www" / "index.html"
    assert page.read_text().endswith("</html>\n") and oct(page.stat().st_mode & 0o777) == "0o644"
    assert main(["metrics", "--textfile", str(tmp_path / "www"), conf], out=out, err=err) == 0
    assert "crontabber_job_running{job=\"daily-report\"} 1" in (tmp_path / "www" / "crontabber.prom").read_text()
    assert sorted(path.name for path in (tmp_path / "www").iterdir()) == ["crontabber.prom", "index.html"]
    assert main(["metrics", "--textfile", str(tmp_path / "nowhere"), conf], out=out, err=err) == 2
    harness.close()


def test_a_reader_never_sees_half_a_page(shot, tmp_path):
    """The web server reads while the next tick rewrites: every read is a whole page."""
    path = tmp_path / "status.html"
    pages = [status_page.render(shot, title=f"crontabber {n}").encode() for n in range(2)]
    write_atomically(path, pages[0])
    stop, seen = threading.Event(), []

    def read() -> None:
        while not stop.is_set():
            seen.append(path.read_bytes())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(40):
            write_atomically(path, pages[n % 2])
    finally:
        stop.set()
        reader.join(timeout=30)
    assert seen and all(data in pages for data in seen)
    assert [p.name for p in tmp_path.iterdir()] == ["status.html"]


def test_the_views_benchmark_runs_in_quick_mode(capsys):
    from benchmarks import views

    assert views.main(["--quick", "--no-postgres"]) == 0
    out = capsys.readouterr().out
    assert "heartbeat statement (one per tick)" in out and "status page HTML" in out


def test_a_big_graph_starts_folded(shot):
    views = [dataclasses.replace(shot.jobs[0], job=dataclasses.replace(shot.jobs[0].job, app_name=f"job-{n}"))
             for n in range(status_page.GRAPH_UNFOLDED_UP_TO + 1)]
    small = status_page.render(shot, refresh=None)
    big = status_page.render(dataclasses.replace(shot, jobs=views, missing=[]), refresh=None)
    assert '<details class="dependencies" open>' in small
    assert '<details class="dependencies">' in big and "the graph of 41 jobs" in big


def test_the_views_never_create_a_ledger(tmp_path):
    ini = tmp_path / "crontabber.ini"
    ini.write_text("[crontabber]\njobs = crontabber.examples.jobs.HelloJob|5m\n")
    err = io.StringIO()
    assert main(["status", f"--admin.conf={ini}", "--html", str(tmp_path / "s.html")], out=io.StringIO(), err=err) == 3
    assert "no ledger yet (the first tick of crontabber creates it)" in err.getvalue()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["crontabber.ini"]
