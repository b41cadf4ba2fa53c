"""Progress on long work (issue 13 item 5): a bar at a terminal, an INFO line every 10% elsewhere."""

import io
import logging
import os
import re
import subprocess
import sys

from crontabber.progress import Progress, iterate

J = "tests.jobs_for_tests."


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_a_bar_at_a_terminal():
    stream = Tty()
    with Progress("backfill report", 4, "dates", stream) as progress:
        for _ in range(4):
            progress.step()
    frames = stream.getvalue().split("\r")[1:]
    assert len(frames) == 1 + 4 + 1 and stream.getvalue().endswith("\n")
    assert frames[0].startswith("backfill report [........................]   0% 0/4 dates")
    assert frames[1].startswith("backfill report [######..................]  25% 1/4 dates, ")
    assert frames[-1].startswith("backfill report [########################] 100% 4/4 dates")


def test_one_bar_at_a_time():
    first = Progress("a", 2, stream=Tty())
    second_stream = Tty()
    second = Progress("b", 2, stream=second_stream)  # parallel work: the second one logs instead
    second.close()
    first.close()
    assert second_stream.getvalue() == ""
    third = Tty()
    Progress("c", 1, stream=third).close()
    assert third.getvalue().startswith("\rc [")


def test_an_info_line_every_ten_percent_elsewhere(caplog):
    caplog.set_level(logging.INFO, logger="crontabber")
    stream = io.StringIO()
    assert list(iterate(range(25), "export-dags --mode bridge", "jobs", stream)) == list(range(25))
    assert stream.getvalue() == ""
    lines = [record.getMessage() for record in caplog.records]
    assert [line.split(": ")[1].split("%")[0] for line in lines] == [str(n) for n in range(10, 101, 10)]
    assert lines[0].startswith("export-dags --mode bridge: 10% (3/25 jobs)")
    assert lines[-1] == "export-dags --mode bridge: 100% (25/25 jobs)"


def test_a_backfill_over_many_dates_reports_its_progress(harness, caplog):
    harness.configure(f"{J}BackfillJob|1d")
    harness.tick()
    harness.clock.advance(days=21)
    caplog.set_level(logging.INFO, logger="crontabber")
    results = harness.tick()
    assert len(results["backfill"].dates) == 20
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("backfill backfill: ")]
    assert len(lines) == 10 and lines[-1] == "backfill backfill: 100% (20/20 dates)"


def test_the_bar_reaches_a_real_terminal(tmp_path):
    """``crontabber --job`` by hand after an outage: the bar is drawn on the terminal's stderr."""
    import pty

    ini = tmp_path / "crontabber.ini"
    ini.write_text(f"[crontabber]\ndatabase_url = sqlite:///{tmp_path / 'l.sqlite'}\n"
                   f"jobs = {J}BackfillJob|1h\n")
    ledger_setup = (
        "import datetime as dt; from crontabber.state import open_ledger, JobState; "
        f"l = open_ledger('sqlite:///{tmp_path / 'l.sqlite'}'); "
        "l.save(JobState('backfill', next_run=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc), "
        "last_run=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=30), "
        "last_success=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=30)))")
    subprocess.run([sys.executable, "-c", ledger_setup], check=True, timeout=60)
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "crontabber", f"--admin.conf={ini}", "--job", "backfill"],
                              stdout=subprocess.DEVNULL, stderr=terminal, stdin=subprocess.DEVNULL, timeout=120)
        os.close(terminal)
        terminal = -1
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    assert done.returncode == 0
    text = seen.decode()
    assert "\rbackfill backfill [........................]   0% 0/" in text, text
    assert re.search(r"\[#{24}\] 100% (\d+)/\1 dates", text) and text.endswith("\n"), text
