"""The settings cache: a tick whose configuration did not change skips configman and the job
modules, and anything that changed (the ini, a job module, an override, crontabber's code) or an
error means a full load; what a cached tick does is what an uncached one does."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crontabber.config.cache import SettingsCache
from crontabber.config.settings import load_settings
from crontabber.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
MODULE = '''from crontabber.base import BaseCronApp


class FooJob(BaseCronApp):
    app_name = "foo"
    depends_on = {depends_on!r}

    def run(self):
        print("foo ran {version}")
'''


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """An ini with a Python job (in a module of its own), a shell job and a warning; a cache dir."""
    (tmp_path / "cachejobs.py").write_text(MODULE.format(depends_on=(), version=1))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "cachejobs", raising=False)  # another test's copy
    ini = tmp_path / "crontabber.ini"
    ini.write_text(f"[crontabber]\ndatabase_url = sqlite:///{tmp_path}/l.sqlite\ntimezone = Europe/Berlin\n"
                   "error_retry_time = 2m\njobs = '''\n    cachejobs.FooJob|1h\n    job:sh|30 3 * * *\n'''\n"
                   "    [[job-sh]]\n    command = echo hi\n    timeout = 5m\n    depends_on = foo\n"
                   "    comand = typo\n")
    environ = {"CRONTABBER_CACHE_DIR": str(tmp_path / "cache")}
    return ini, environ


def loaded(ini, environ, overrides=None):
    return load_settings(ini, overrides or {}, environ, cached=True)


def test_a_cached_load_gives_what_a_full_load_gives_without_configman(setup):
    ini, environ = setup
    full = loaded(ini, environ)  # a full load, which writes the entry
    assert type(full.config).__name__ == "DotDictWithAcquisition"
    cached = loaded(ini, environ)
    assert type(cached.config).__name__ == "_Deferred"  # served from the cache
    for field in ("database_url", "error_retry_time", "max_workers", "config_warnings", "logging_options",
                  "sentry_dsn", "unknown_options"):
        assert getattr(cached, field) == getattr(full, field), field
    assert str(cached.timezone) == str(full.timezone) == "Europe/Berlin"
    for mine, theirs in zip(cached.jobs, full.jobs, strict=True):
        assert (mine.app_name, mine.kind, mine.target, mine.depends_on, mine.settings, mine.entry) == \
               (theirs.app_name, theirs.kind, theirs.target, theirs.depends_on, theirs.settings, theirs.entry)
        assert mine.schedule == theirs.schedule
    # a job that runs gets the real class and configuration (the full load happens then, once)
    foo = cached.job("foo")
    assert foo.job_class.__name__ == "FooJob" and foo.config["frequency"] == "1h"
    assert cached.job("sh").config["command"] == "echo hi"


def test_the_entry_is_private(setup):
    ini, environ = setup
    loaded(ini, environ)
    [entry] = (Path(environ["CRONTABBER_CACHE_DIR"])).iterdir()
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE(entry.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize("change", ["ini", "module", "override", "environment"])
def test_any_change_means_a_full_load(setup, change):
    ini, environ = setup
    loaded(ini, environ)
    overrides = {}
    if change == "ini":
        ini.write_text(ini.read_text().replace("error_retry_time = 2m", "error_retry_time = 7m"))
    elif change == "module":
        module = ini.parent / "cachejobs.py"
        module.write_text(MODULE.format(depends_on=("elsewhere",), version=22))  # another size and time
        sys.modules.pop("cachejobs", None)
    elif change == "override":
        overrides = {"crontabber.error_retry_time": "9m"}
    else:
        environ = {**environ, "crontabber__error_retry_time": "11m"}
    settings = loaded(ini, environ, overrides)
    assert type(settings.config).__name__ != "_Deferred"
    expected = {"ini": 420, "module": 120, "override": 540, "environment": 660}[change]
    assert settings.error_retry_time == expected
    if change == "module":
        assert settings.job("foo").depends_on == ("elsewhere",)


def test_a_configuration_error_shows_on_every_tick_and_is_never_cached(setup):
    ini, environ = setup
    loaded(ini, environ)
    ini.write_text(ini.read_text().replace("cachejobs.FooJob|1h", "cachejobs.FooJob|3e"))
    for _ in range(2):
        with pytest.raises(ConfigError, match="bad frequency '3e'"):
            loaded(ini, environ)


def test_turned_off_and_unwritable_caches_cost_nothing_but_time(setup, tmp_path):
    ini, environ = setup
    assert type(loaded(ini, {"CRONTABBER_CACHE_DIR": "off"}).config).__name__ != "_Deferred"
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    for _ in range(2):
        assert type(loaded(ini, {"CRONTABBER_CACHE_DIR": str(blocked)}).config).__name__ != "_Deferred"
    assert SettingsCache(ini, {"CRONTABBER_CACHE_DIR": "off"}, {}).path is None


def test_a_cached_tick_imports_neither_configman_nor_the_job_modules_and_warns_as_before(setup, tmp_path):
    ini, environ = setup
    env = {**os.environ, **environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}"}
    command = [sys.executable, "-X", "importtime", "-m", "crontabber", f"--admin.conf={ini}"]
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    time.sleep(0.01)
    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert first.returncode == second.returncode == 0, first.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in second.stderr.splitlines() if "import time:" in line}
    assert "configman" not in imported and "cachejobs" not in imported
    assert "configman" in {line.rsplit("|", 1)[-1].strip() for line in first.stderr.splitlines()}
    warnings = [line for line in second.stderr.splitlines() if "import time:" not in line]
    assert any("unknown option 'comand' in [[job-sh]]" in line for line in warnings), warnings
    entry = next(Path(environ["CRONTABBER_CACHE_DIR"]).iterdir())
    assert json.loads(entry.read_text())["jobs"][0]["app_name"] == "foo"
