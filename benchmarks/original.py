"""crontabber 0.18.1, the baseline: found or installed at run time, never kept in this repo.

It needs Python 2.7. The interpreter is taken from ``--python2``, ``$CRONTABBER_BENCH_PYTHON2``,
``python2.7``/``python2`` on PATH or a pyenv 2.7 version; its pip installs
``crontabber==0.18.1 psycopg2-binary==2.8.6`` into a cache folder (``$CRONTABBER_BENCH_CACHE``,
default ``~/.cache/crontabber-bench``) the first time. When any step fails the benchmarks
say why and print our figures alone.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import child_env

VERSION = "0.18.1"
REQUIREMENTS = (f"crontabber=={VERSION}", "psycopg2-binary==2.8.6")


@dataclass
class Original:
    """A runnable crontabber 0.18.1: a Python 2.7 interpreter and the folder it was installed in."""

    python: str
    site: Path

    def command(self, ini: Path, *flags: str) -> list[str]:
        """The 0.18.1 command line (``python -m crontabber.app --admin.conf=FILE``)."""
        return [self.python, "-m", "crontabber.app", f"--admin.conf={ini}", *flags]

    def env(self, job_folder: Path) -> dict[str, str]:
        """Its environment: the install folder and the generated jobs importable."""
        return child_env([self.site, job_folder])


def find_python2(explicit: str | None = None) -> str | None:
    """A Python 2.7 interpreter, or None."""
    candidates = [explicit, os.environ.get("CRONTABBER_BENCH_PYTHON2"), shutil.which("python2.7"),
                  shutil.which("python2")]
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/2.7*/bin/python"), reverse=True)
    for candidate in candidates:
        if candidate and Path(candidate).exists() and _is_python27(candidate):
            return candidate
    return None


def _is_python27(python: str) -> bool:
    try:
        done = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == "2.7"


def cache_folder() -> Path:
    """Where the baseline is installed (outside the repository)."""
    root = os.environ.get("CRONTABBER_BENCH_CACHE") or Path.home() / ".cache" / "crontabber-bench"
    return Path(root) / f"crontabber-{VERSION}-py27"


def locate(python2: str | None = None) -> tuple[Original | None, str]:
    """The installed baseline and a line saying where it is, or None and why it is not available."""
    python = find_python2(python2)
    if python is None:
        return None, ("crontabber 0.18.1 NOT measured: no Python 2.7 interpreter found (pass "
                      "--python2 PATH or set CRONTABBER_BENCH_PYTHON2)")
    site = cache_folder()
    marker = site / "crontabber" / "app.py"
    if not marker.exists():
        problem = _install(python, site)
        if problem:
            return None, f"crontabber 0.18.1 NOT measured: installing it with {python} failed: {problem}"
    check = subprocess.run([python, "-c", "import crontabber.app, psycopg2"], env=child_env([site]),
                           cwd=site, capture_output=True, text=True)
    if check.returncode != 0:
        tail = (check.stderr.strip().splitlines() or ["?"])[-1]
        return None, f"crontabber 0.18.1 NOT measured: it does not import ({tail})"
    return Original(python, site), f"crontabber 0.18.1 on {python} from {site}"


def _install(python: str, site: Path) -> str | None:
    """pip-install the baseline into ``site``; the error's last line when it fails."""
    if subprocess.run([python, "-m", "pip", "--version"], capture_output=True).returncode != 0:
        subprocess.run([python, "-m", "ensurepip", "--user"], capture_output=True)
    site.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([python, "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
                           "--target", str(site), *REQUIREMENTS],
                          env=child_env(), capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(site, ignore_errors=True)
        lines = (done.stderr or done.stdout).strip().splitlines()
        return lines[-1] if lines else f"pip exited {done.returncode}"
    return None
