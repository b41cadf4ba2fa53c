"""``export-dags`` speaks when it matters: notes for changed files, durations as an operator says them,
exit 2 when nothing could be exported, a ``# Source:`` line that reads right, and a ``--check``
that leaves the user's Airflow home (and /tmp) as it found them."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crontabber.cli.main import main

CRONTABBER = Path(sys.executable).with_name("crontabber")


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def ini(folder: Path, jobs: str, sections: str = "") -> Path:
    path = folder / "crontabber.ini"
    path.write_text(f"[crontabber]\njobs = '''\n{textwrap.dedent(jobs).strip()}\n'''\n" + textwrap.dedent(sections))
    return path


SIX = """
    job:one|1d|03:00
    job:two|@weekly
    job:three|@monthly
    job:four|1h
    job:five|0 4 * * *
    job:refresh|1d|05:00
"""
SIX_SECTIONS = """
    [[job-one]]
    command = true
    [[job-two]]
    command = true
    [[job-three]]
    command = true
    [[job-four]]
    command = true
    [[job-five]]
    command = true
    [[job-refresh]]
    procedure = reporting.refresh
    database_url = postgresql://etl@db.internal/warehouse
"""


def test_notes_only_for_changed_files_and_all_with_verbose(tmp_path):
    conf = f"--admin.conf={ini(tmp_path, SIX, SIX_SECTIONS)}"
    out_dir = f"--output={tmp_path / 'dags'}"
    code, out, err = cli("export-dags", conf, out_dir)
    assert code == 0 and "6 written, 0 unchanged" in out
    first_notes = [line for line in err.splitlines() if line.startswith("note: ")]
    assert {line.split(":")[1].strip() for line in first_notes} == {"one", "two", "three", "four", "five", "refresh"}

    code, out, err = cli("export-dags", conf, out_dir)  # nothing changed: nothing to say
    assert (code, err) == (0, "") and "0 written, 6 unchanged" in out

    code, out, err = cli("export-dags", conf, out_dir, "--verbose")
    assert code == 0 and err.splitlines() == first_notes

    Path(conf.split("=", 1)[1]).write_text(
        Path(conf.split("=", 1)[1]).read_text().replace("job:four|1h", "job:four|2h"))
    code, out, err = cli("export-dags", conf, out_dir)
    assert "1 written, 5 unchanged" in out
    assert {line.split(":")[1].strip() for line in err.splitlines()} == {"four"}


def test_default_retries_are_said_in_durations_and_explained_in_the_docs(tmp_path):
    conf = f"--admin.conf={ini(tmp_path, SIX, SIX_SECTIONS)}"
    code, _, err = cli("export-dags", conf, f"--output={tmp_path / 'dags'}")
    assert "note: one: retries = 288: as many retry delays (5m) as fit in one interval (1d)" in err
    assert "note: two: retries = 1000: as many retry delays (5m) as fit in one interval (7d)" in err
    assert re.search(r"note: three: retries = 1000: as many retry delays \(5m\) as fit in one interval "
                     r"\((28|29|30|31)d\)", err)
    assert "e+0" not in err and " s)" not in err
    airflow_doc = (Path(__file__).resolve().parents[1] / "docs" / "airflow.md").read_text()
    assert "288" in airflow_doc and "1000" in airflow_doc  # the one place that explains the count


def test_procedure_jobs_header_reads_right(tmp_path):
    conf = f"--admin.conf={ini(tmp_path, SIX, SIX_SECTIONS)}"
    cli("export-dags", conf, f"--output={tmp_path / 'dags'}")
    lines = (tmp_path / "dags" / "refresh.py").read_text().splitlines()
    assert lines[2] == "# Source: procedure reporting.refresh"
    assert (tmp_path / "dags" / "one.py").read_text().splitlines()[2] == "# Source: shell command true"


def test_nothing_exportable_exits_2_and_says_why(tmp_path):
    empty = tmp_path / "empty.ini"
    empty.write_text("[crontabber]\njobs =\n")
    for mode in ("bridge", "native"):
        code, out, err = cli("export-dags", f"--admin.conf={empty}", f"--output={tmp_path / 'dags'}", "--mode", mode)
        assert (code, out, err) == (2, "", "crontabber: error: nothing to export: no jobs are configured "
                                          "(crontabber.jobs is empty)\n")
    assert not (tmp_path / "dags").exists()


def _clean_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a shell where Airflow was never configured, with a private HOME and TMPDIR."""
    env = {key: value for key, value in os.environ.items()
           if key != "AIRFLOW_HOME" and not key.startswith("AIRFLOW__")}
    for name in ("home", "tmp"):
        (tmp_path / name).mkdir()
    env.update(HOME=str(tmp_path / "home"), TMPDIR=str(tmp_path / "tmp"))
    return env


@pytest.mark.airflow
def test_check_writes_nothing_into_the_users_airflow_home(tmp_path):
    conf = ini(tmp_path, "job:one|1d|03:00", "    [[job-one]]\n    command = true\n")
    env = _clean_env(tmp_path)
    done = subprocess.run([str(CRONTABBER), "export-dags", f"--admin.conf={conf}", f"--output={tmp_path / 'dags'}",
                           "--check"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("check: 1 DAG files load and serialize\n")
    assert list((tmp_path / "home").iterdir()) == []  # no ~/airflow, no ~/airflow/logs
    assert list((tmp_path / "tmp").iterdir()) == []  # the scratch home is gone too

    home = tmp_path / "airflow-home"
    home.mkdir()
    done = subprocess.run([str(CRONTABBER), "export-dags", f"--admin.conf={conf}", f"--output={tmp_path / 'dags'}",
                           "--check"], env={**env, "AIRFLOW_HOME": str(home)}, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert list(home.iterdir()) == [] and list((tmp_path / "tmp").iterdir()) == []
    assert "Filling up the DagBag" not in done.stdout + done.stderr  # Airflow's chatter stays inside


def test_the_tests_airflow_home_is_removed_when_the_session_ends(tmp_path):
    """Each test run used to leave /tmp/crontabber-airflow-XXXX (an airflow.db) behind."""
    code = ("import sys; from tests.test_airflow_support import scratch_folder; "
            "print(scratch_folder('crontabber-airflow-'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[1], env={**os.environ, "TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    folder = Path(done.stdout.strip())
    assert folder.parent == tmp_path and folder.name.startswith("crontabber-airflow-")
    assert not folder.exists()
