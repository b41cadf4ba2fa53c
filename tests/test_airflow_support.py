"""Shared set-up for the Airflow tests: one migrated Airflow home per test session.

Airflow reads its configuration when first imported, so ``airflow_home()`` sets
the environment, migrates a fresh SQLite metadata DB (``airflow db migrate`` in a
subprocess) and only then lets the tests import Airflow. It runs once per process.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
AIRFLOW = Path(sys.executable).with_name("airflow")


def scratch_folder(prefix: str) -> Path:
    """A temporary folder that is deleted when this Python process exits (no /tmp leftovers)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


@functools.cache
def airflow_home() -> Path:
    """A fresh AIRFLOW_HOME with a migrated SQLite DB, examples off, and an empty dags folder;
    removed when the test session's process exits."""
    home = scratch_folder("crontabber-airflow-")
    dags = home / "dags"
    dags.mkdir()
    os.environ.update({
        "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags), "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    })
    done = subprocess.run([str(AIRFLOW), "db", "migrate"], capture_output=True, text=True, env=os.environ)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return home


@pytest.fixture
def dags_folder() -> Path:
    """The dags folder of the session's Airflow home, empty at the start of the test."""
    folder = airflow_home() / "dags"
    for path in folder.glob("*.py"):
        path.unlink()
    return folder


def write_ini(folder: Path, jobs: str, options: str = "", sections: str = "") -> Path:
    """A crontabber.ini with its own SQLite ledger in ``folder``."""
    path = folder / "crontabber.ini"
    path.write_text(textwrap.dedent(f"""\
        [crontabber]
        database_url = sqlite:///{folder / 'ledger.sqlite'}
        jobs = '''
        {textwrap.indent(textwrap.dedent(jobs).strip(), '        ').strip()}
        '''
        """) + textwrap.dedent(options) + textwrap.dedent(sections))
    return path


def load_dag(path: Path):
    """The single DAG a generated file defines, loaded by Airflow's DagBag (no import errors)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(path), bundle_path=path.parent, bundle_name="dags-folder")
    assert not bag.import_errors, bag.import_errors
    assert len(bag.dags) == 1, bag.dags
    return next(iter(bag.dags.values()))


def record(text: str) -> None:
    with open(os.environ["AIRFLOW_TEST_RECORD"], "a", encoding="utf-8") as handle:
        handle.write(text + "\n")


def airflow_setup(tmp_path: Path, monkeypatch, dags_folder: Path):
    """(ini writer, recorded lines, dags folder) with $CRONTABBER_CONFIG pointing at the ini."""
    monkeypatch.setenv("AIRFLOW_TEST_RECORD", str(tmp_path / "record.txt"))
    (tmp_path / "record.txt").write_text("")

    def configure(jobs: str, sections: str, options: str = "error_retry_time = 1\n"):
        from crontabber.config.settings import load_settings

        ini = write_ini(tmp_path, jobs, options=options, sections=sections)
        monkeypatch.setenv("CRONTABBER_CONFIG", str(ini))
        return load_settings(ini, {}, {})

    def recorded() -> list[str]:
        return (tmp_path / "record.txt").read_text().splitlines()

    return configure, recorded, dags_folder


def deploy(settings, folder: Path, app_name: str, mode: str = "bridge"):
    """Export ``app_name`` (native mode: with its connected group) into the dags folder and load
    its DAG as Airflow does."""
    from airflow_bridge.export import export, file_name

    result = export(settings, mode, [app_name])
    assert not result.skipped, result.skipped
    for name, text in result.files.items():
        (folder / name).write_text(text)
    return load_dag(folder / file_name(result.dag_ids[app_name]))


def ledger_of(settings):
    from crontabber.state import open_ledger

    return open_ledger(settings.database_url)
