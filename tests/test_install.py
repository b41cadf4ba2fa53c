"""Every install command the docs and messages show works today, from a clone, as written.

The distribution is ``crontabber-ng`` (``crontabber`` on the package index is Mozilla's 0.18.1).
This test finds every ``pip install`` in README.md, docs/*.md and the code's messages, then:

- runs each shell block of the docs that installs (the README's and the quickstart's "try it"),
  as written, with bash in a fresh copy of the checkout (it makes its own virtualenv);
- installs every other extra the docs or setup.py name, one fresh virtualenv each;
- resolves the extras that pull in Airflow (or Celery) with ``pip install --dry-run`` in this
  test environment: a fresh-venv resolve of Airflow's ~200 packages costs one to three minutes
  here (the index's pages are not cacheable), while this environment was itself resolved
  from the index by CI's ``pip install -e '.[test]'``; the dry run still fails on an
  unsatisfiable or unknown extra. ``CRONTABBER_DRY_RUN_FRESH=1`` resolves them in fresh venvs.

The virtualenvs then show what a user of each sees: ``export-dags --check`` without Airflow and a
PostgreSQL ledger without psycopg2 are one line and exit 2; the postgres extra opens a real one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import docblocks
from tests.docblocks import REPO

DISTRIBUTION = "crontabber-ng"
HEAVY = re.compile(r"^(apache-airflow|celery)\b", re.IGNORECASE)  # resolve-only requirements
SOURCES = [*docblocks.DOCS, *sorted((REPO / "crontabber").rglob("*.py")),
           *sorted((REPO / "airflow_bridge").rglob("*.py"))]
PIP_INSTALL = re.compile(r"\bpip3? install\b")
TOKEN = re.compile(r"""\s*(?:'([^'\n]*)'|"([^"\n]*)"|([^\s`'"(),;&|]+))""")
INSTALL_TIMEOUT = 600


@dataclass(frozen=True)
class InstallLine:
    """One ``pip install`` shown to a user: where, and what it installs."""

    where: str
    text: str
    target: str  # ".", "crontabber-ng", or another distribution ("crontabber==0.18.1")
    extras: frozenset[str]


def requirements_after(text: str, start: int) -> list[str]:
    """The requirement words after ``pip install`` at ``start``: options are passed over, the first
    word is always one, later words only when they look like one (``.``, ``x[...]``, ``x==1``), so
    the prose after a command in a message is not read as packages."""
    found: list[str] = []
    position = start
    while True:
        match = TOKEN.match(text, position)
        if match is None:
            return found
        word = next(group for group in match.groups() if group is not None)
        position = match.end()
        if word.startswith("-"):
            continue
        if found and not (word.startswith(".") or "[" in word or re.search(r"[=<>~]=", word)):
            return found
        found.append(word)


def lines_in(text: str, where: str) -> list[InstallLine]:
    """The install lines of ``text`` (``where`` names it in messages)."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in PIP_INSTALL.finditer(line):
            for word in requirements_after(line, match.end()):
                name, _, extras = word.partition("[")
                found.append(InstallLine(f"{where}:{number}", line.strip(), name,
                                         frozenset(filter(None, extras.rstrip("]").split(",")))))
    return found


def install_lines() -> list[InstallLine]:
    """Every ``pip install`` in the docs and in the code's messages and docstrings."""
    return [line for path in SOURCES
            for line in lines_in(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))]


def declared_extras(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, list[str]]]:
    """(distribution name, extra -> requirements) as setup.py declares them today."""
    egg_base = tmp_path_factory.mktemp("egg-info")
    subprocess.run([sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(egg_base)], cwd=REPO,
                   check=True, capture_output=True, timeout=120)
    (info,) = egg_base.glob("*.egg-info")
    name = re.search(r"^Name: (.+)$", (info / "PKG-INFO").read_text(), re.MULTILINE).group(1).strip()
    extras: dict[str, list[str]] = {}
    section = None
    for line in (info / "requires.txt").read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[]").split(":", 1)[0]
            extras.setdefault(section, [])
        elif line.strip() and section:
            extras[section].append(line.strip())
    return name, extras


def is_heavy(extras: frozenset[str], declared: dict[str, list[str]]) -> bool:
    return any(HEAVY.match(requirement) for extra in extras for requirement in declared.get(extra, []))


def spec(extras: frozenset[str]) -> str:
    return "." + (f"[{','.join(sorted(extras))}]" if extras else "")


@dataclass
class Outcome:
    """One install that ran: what, how it ended, and the virtualenv it made (None for a dry run)."""

    label: str
    extras: frozenset[str]
    code: int
    output: str
    venv: Path | None = None


def _fresh_install(label: str, extras: frozenset[str], root: Path, env: dict[str, str], dry_run: bool) -> Outcome:
    """``python3 -m venv v && v/bin/pip install '.[extras]'`` in a fresh checkout copy."""
    checkout = docblocks.checkout_copy(root / "checkout")
    venv = root / "venv"
    code, output = docblocks.run_bounded([sys.executable, "-m", "venv", str(venv)], checkout, env, 120)
    if code == 0:
        command = [str(venv / "bin" / "pip"), "install", "-q", *(["--dry-run"] if dry_run else []), spec(extras)]
        code, output = docblocks.run_bounded(command, checkout, env, INSTALL_TIMEOUT)
    return Outcome(label, extras, code, output, None if dry_run else venv)


def _dry_run_here(label: str, extras: frozenset[str], root: Path, env: dict[str, str]) -> Outcome:
    """``pip install --dry-run '.[extras]'`` in this test environment (see the module docstring)."""
    checkout = docblocks.checkout_copy(root / "checkout")
    report = root / "report.json"
    command = [sys.executable, "-m", "pip", "install", "-q", "--dry-run", "--report", str(report), spec(extras)]
    code, output = docblocks.run_bounded(command, checkout, env, INSTALL_TIMEOUT)
    if code == 0:
        requested = [item for item in json.loads(report.read_text())["install"]
                     if item["metadata"]["name"] == DISTRIBUTION]
        if not requested or set(requested[0].get("requested_extras") or []) != set(extras):
            code, output = 1, f"the resolve did not install {DISTRIBUTION}{spec(extras)[1:]}:\n{output}"
    return Outcome(label, extras, code, output)


def _run_block(block: docblocks.Block, root: Path, env: dict[str, str]) -> Outcome:
    """The block as written, with bash -e, in a fresh copy of the checkout."""
    checkout = docblocks.checkout_copy(root / "checkout")
    code, output = docblocks.run_bounded(["bash", "-e", "-o", "pipefail", "-c", block.text], checkout, env,
                                         INSTALL_TIMEOUT)
    (extras,) = {line.extras for line in lines_in(block.text, block.where) if line.target == "."} or {frozenset()}
    return Outcome(block.describe(), extras, code, output, checkout / ".venv")


@pytest.fixture(scope="module")
def declared(tmp_path_factory):
    return declared_extras(tmp_path_factory)


@pytest.fixture(scope="module")
def installs(declared, tmp_path_factory):
    """Run every install the docs show, plus each declared extra, at once (pip waits on the network)."""
    _, extras = declared
    home = tmp_path_factory.mktemp("home")
    env = docblocks.environment(home)
    env.setdefault("PIP_CACHE_DIR", os.path.expanduser("~/.cache/pip"))  # pip's cache is allowed
    blocks: dict[str, docblocks.Block] = {}
    for block in docblocks.all_blocks():
        if block.installs and not block.not_run:
            blocks.setdefault(block.text, block)  # the same commands twice are one run
    covered = {line.extras for block in blocks.values() for line in lines_in(block.text, block.where)
               if line.target == "."}
    wanted = {line.extras for line in install_lines() if line.target in (".", DISTRIBUTION)}
    wanted |= {frozenset([extra]) for extra in extras}  # every extra setup.py declares, shown or not
    fresh = os.environ.get("CRONTABBER_DRY_RUN_FRESH") == "1"
    jobs = []
    for index, block in enumerate(blocks.values()):
        jobs.append(lambda block=block, index=index: _run_block(block, tmp_path_factory.mktemp(f"block{index}"), env))
    for extra_set in sorted(wanted - covered, key=sorted):
        label = f"pip install '{spec(extra_set)}'"
        root = tmp_path_factory.mktemp("extras-" + ("-".join(sorted(extra_set)) or "none"))
        if not is_heavy(extra_set, extras):
            jobs.append(lambda s=extra_set, r=root, label=label: _fresh_install(label, s, r, env, dry_run=False))
        elif fresh:
            jobs.append(lambda s=extra_set, r=root, label=label: _fresh_install(label + " --dry-run", s, r, env, True))
        else:
            jobs.append(lambda s=extra_set, r=root, label=label: _dry_run_here(label + " --dry-run", s, r, env))
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda job: job(), jobs))
    return {"results": results, "blocks": list(blocks.values()), "covered": covered, "env": env,
            "wanted": wanted}


def test_install_lines_name_this_distribution_and_declared_extras(declared):
    name, extras = declared
    assert name == DISTRIBUTION  # free on the index; "crontabber" there is Mozilla's 0.18.1
    lines = install_lines()
    assert lines, "no install line found"
    wrong = [f"{line.where}: {line.text!r}" for line in lines if line.target.lower() == "crontabber"]
    assert wrong == [], (
        "install lines that fetch Mozilla's 0.18.1 from the index (use pip install '.[extra]' from a clone, "
        f"and {DISTRIBUTION} once published)")
    unknown = [f"{line.where}: {line.text!r} names extra {extra!r}" for line in lines
               if line.target in (".", DISTRIBUTION) for extra in line.extras if extra not in extras]
    assert unknown == [], f"extras setup.py does not declare ({', '.join(extras)}); pip would only warn"
    local = {line.extras for line in lines if line.target == "."}
    published = {line.extras for line in lines if line.target == DISTRIBUTION}
    assert published <= local, "every 'once published' line has the command that works today beside it"


def test_every_install_runs_as_written(installs):
    failed = [f"{result.label}: exit {result.code}\n{docblocks._indent(result.output)}"
              for result in installs["results"] if result.code != 0]
    assert not failed, "\n\n".join(failed)
    assert installs["blocks"], "the docs show no install block to run"
    shown = sorted("'" + spec(extras) + "'" for extras in installs["wanted"])
    print("installed or resolved:", ", ".join(shown))


def _venv_of(installs, extras: frozenset[str]) -> Path:
    """The virtualenv an install with exactly ``extras`` made (a docs block's first)."""
    for result in installs["results"]:
        if result.extras == extras and result.venv is not None and (result.venv / "bin" / "crontabber").exists():
            return result.venv
    pytest.fail(f"no virtualenv with {spec(extras)} installed")


def test_the_readme_install_runs_the_examples(installs, tmp_path):
    venv = _venv_of(installs, frozenset())
    checkout = venv.parent
    assert (checkout / "crontabber" / "examples" / "crontabber.sqlite").exists()  # the block ran the examples
    version = subprocess.run([str(venv / "bin" / "python"), "-c",
                              f"import importlib.metadata as m; print(m.version({DISTRIBUTION!r}))"],
                             capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.strip(), version.stderr


def test_check_without_airflow_is_one_line_exit_2(installs, tmp_path):
    venv = _venv_of(installs, frozenset())
    done = subprocess.run([str(venv / "bin" / "crontabber"), "export-dags",
                           f"--admin.conf={REPO / 'crontabber' / 'examples' / 'crontabber.ini'}",
                           f"--output={tmp_path / 'dags'}", "--check"], capture_output=True, text=True,
                          env=installs["env"], timeout=120)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == ("crontabber: error: export-dags --check needs Apache Airflow 3.3 in this Python "
                           "environment: pip install '.[airflow]' in a clone of crontabber (once published: "
                           "pip install 'crontabber-ng[airflow]'); the export itself needs no Airflow\n")
    assert not (tmp_path / "dags").exists()


def test_a_postgres_ledger_without_the_extra_says_how_to_install_it(installs, tmp_path):
    venv = _venv_of(installs, frozenset())
    done = subprocess.run([str(venv / "bin" / "crontabber"), "list",
                           f"--admin.conf={REPO / 'crontabber' / 'examples' / 'crontabber.ini'}",
                           "--crontabber.database_url=postgresql://crontabber@127.0.0.1/test"],
                          capture_output=True, text=True, env=installs["env"], timeout=120)
    assert done.returncode == 2
    assert done.stderr == ("crontabber: error: crontabber.database_url 'postgresql://crontabber@127.0.0.1/test' "
                           "needs psycopg2, which is not installed here: pip install '.[postgres]' in a clone "
                           "of crontabber (once published: pip install 'crontabber-ng[postgres]'), or pip install "
                           "psycopg2-binary\n")


def test_the_postgres_extra_opens_a_postgres_ledger(installs, tmp_path):
    from tests.pg_support import temp_database

    venv = _venv_of(installs, frozenset({"postgres"}))
    with temp_database() as url:
        done = subprocess.run([str(venv / "bin" / "crontabber"), "list",
                               f"--admin.conf={REPO / 'crontabber' / 'examples' / 'crontabber.ini'}",
                               f"--crontabber.database_url={url}"],
                              capture_output=True, text=True, env=installs["env"], timeout=120)
    assert done.returncode == 0, done.stderr
    assert "6 jobs; times in UTC; ledger: postgresql://" in done.stdout
