"""dags/ holds the DAGs generated from the example configs, in both modes, and stays up to date.

Refresh after changing a job or the exporter:
    CRONTABBER_UPDATE_DAGS=1 pytest tests/test_airflow_dags.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airflow_bridge.cli import generated_app_name
from airflow_bridge.export import export
from crontabber.config.settings import load_settings
from tests.test_airflow_support import REPO

SOURCES = {"examples": REPO / "crontabber" / "examples" / "crontabber.ini",
           "legacy": REPO / "legacy_scripts" / "crontabber.ini"}
MODES = ("bridge", "native")


def generated() -> dict[Path, str]:
    """dags/<mode>/<source>/<file> -> source text, for every example config that exists."""
    files = {}
    for name, ini in SOURCES.items():
        if not ini.exists():
            continue
        settings = load_settings(ini, {}, {})
        for mode in MODES:
            for file_name, text in export(settings, mode).files.items():
                files[REPO / "dags" / mode / name / file_name] = text
    return files


def on_disk() -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for path in (REPO / "dags").rglob("*.py")
            if generated_app_name(path) is not None}


def test_dags_folder_matches_a_fresh_export():
    fresh = generated()
    if os.environ.get("CRONTABBER_UPDATE_DAGS"):
        for path in set(on_disk()) - set(fresh):
            path.unlink()
        for path, text in fresh.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode("utf-8"))
    current = on_disk()
    hint = "run: CRONTABBER_UPDATE_DAGS=1 pytest tests/test_airflow_dags.py"
    assert sorted(current) == sorted(fresh), hint
    for path, text in fresh.items():
        assert current[path] == text, f"{path.relative_to(REPO)} differs; {hint}"


def test_both_modes_of_the_examples_are_there():
    assert (REPO / "dags" / "bridge" / "examples" / "hello.py").exists()
    assert (REPO / "dags" / "native" / "examples" / "nightly-cleanup.py").exists()


@pytest.mark.skipif(not SOURCES["legacy"].exists(), reason="legacy_scripts/crontabber.ini has not landed")
def test_legacy_scripts_are_exported():
    assert list((REPO / "dags" / "bridge" / "legacy").glob("*.py"))


def test_generated_files_are_ruff_formatted_and_clean():
    import shutil
    import subprocess
    import sys

    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed")
    for args in (["format", "--check"], ["check"]):
        done = subprocess.run([ruff, *args, "dags"], cwd=REPO, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
