"""The fenced code blocks of README.md and docs/*.md, and how the docs tests run each kind.

A block is run by its language: ``ini`` through ``crontabber configtest``, ``python`` executed
(a block whose first line is ``# NAME.py`` is that file: the docs define job modules and tests
that way; a ``test_*.py`` file runs under pytest), ``sh``/``bash``/``shell`` with bash in a
temporary copy of the checkout (``-e``: every command must succeed), ``sql`` on a throwaway
PostgreSQL database. A block preceded by ``<!-- not run: <reason> -->`` is skipped and counted.
Every failure names the file, the line of the block's opening fence, the block and why.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
KINDS = {"ini": "ini", "python": "python", "py": "python", "sh": "sh", "bash": "sh", "shell": "sh", "sql": "sql"}
NOT_RUN = re.compile(r"^\s*<!--\s*not run:\s*(.+?)\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
FILE_NAME = re.compile(r"^#\s*(?P<name>[A-Za-z_][A-Za-z0-9_.-]*\.(?:py|ini))\s*$")
BIN = Path(sys.executable).parent
SHELL_TIMEOUT = 300  # seconds for one shell block (one that installs into a fresh venv takes ~30 s)


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, its text and why it is not run (None: it is)."""

    path: Path
    line: int  # the line of the opening fence, 1-based
    lang: str
    text: str
    not_run: str | None

    @property
    def kind(self) -> str | None:
        """ini, python, sh or sql; None for a language the docs tests do not run."""
        return KINDS.get(self.lang.lower())

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"

    @property
    def file_name(self) -> str | None:
        """``myjobs.py`` for a Python block whose first line is ``# myjobs.py`` (``crontabber.ini`` likewise
        for an ini block): the docs tell the reader to save it under that name."""
        first = self.text.split("\n", 1)[0]
        match = FILE_NAME.match(first) if self.kind in ("python", "ini") else None
        if match is None or not match.group("name").endswith(".py" if self.kind == "python" else ".ini"):
            return None
        return match.group("name")

    @property
    def module_name(self) -> str | None:
        """``myjobs.py`` for a Python block whose first line is ``# myjobs.py``."""
        return self.file_name if self.kind == "python" else None

    @property
    def installs(self) -> bool:
        """A shell block that runs ``pip install`` (tests/test_install.py runs those)."""
        return self.kind == "sh" and bool(re.search(r"\bpip3? install\b", self.text))

    def describe(self) -> str:
        first = next((line.strip() for line in self.text.splitlines() if line.strip()), "")
        return f"{self.where} ({self.lang or 'no language'} block starting {first[:60]!r})"


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of one Markdown file, in order."""
    lines = path.read_text(encoding="utf-8").split("\n")
    found: list[Block] = []
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        start, indent, fence = index, len(match.group("indent")), match.group("fence")
        body: list[str] = []
        index += 1
        while index < len(lines) and not re.match(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[index]):
            body.append(lines[index][indent:] if lines[index][:indent].strip() == "" else lines[index])
            index += 1
        previous = next((lines[i] for i in range(start - 1, -1, -1) if lines[i].strip()), "")
        marker = NOT_RUN.match(previous)
        found.append(Block(path, start + 1, match.group("lang"), "\n".join(body) + "\n",
                           marker.group(1) if marker else None))
        index += 1
    return found


def all_blocks() -> list[Block]:
    return [block for path in DOCS for block in blocks(path)]


def doc_modules() -> dict[str, Block]:
    """File name -> the block that defines it (``# myjobs.py`` blocks), across every document."""
    modules: dict[str, Block] = {}
    for block in all_blocks():
        name = block.module_name
        if name is None or block.not_run:
            continue
        other = modules.get(name)
        if other is not None and other.text != block.text:
            raise AssertionError(f"{block.describe()}: defines {name}, which {other.where} defines differently; "
                                 "give one of them another name")
        modules.setdefault(name, block)
    return modules


def checkout_copy(target: Path) -> Path:
    """A copy of the checkout as a clone would have it (tracked and new files; nothing ignored)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def environment(home: Path, extra_path: Path | None = None) -> dict[str, str]:
    """What a user's shell has: this venv's commands first on PATH, a private HOME; no PYTHONPATH
    (a doc that needs one must say so), no Airflow or crontabber settings of the test session."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AIRFLOW", "CRONTABBER_", "crontabber__", "PYTHON", "VIRTUAL_ENV", "PYTEST"))}
    env["PATH"] = os.pathsep.join(filter(None, [str(extra_path or ""), str(BIN), env.get("PATH", "")]))
    env["HOME"] = str(home)
    return env


def run_bounded(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run ``command`` in its own process group; (exit code, output tail). On timeout the group is killed."""
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate(timeout=30)
        return -1, f"did not finish within {timeout:g} s\n" + output.decode(errors="replace")[-3000:]
    return proc.returncode, output.decode(errors="replace")[-3000:]


def run_shell(block: Block, cwd: Path, env: dict[str, str]) -> str | None:
    """Run a shell block with bash -e; None when it succeeded, else why not."""
    code, output = run_bounded(["bash", "-e", "-o", "pipefail", "-c", block.text], cwd, env, SHELL_TIMEOUT)
    return None if code == 0 else f"exit code {code}; output:\n{_indent(output)}"


def _indent(text: str) -> str:
    return "\n".join(f"    | {line}" for line in text.rstrip().splitlines()[-40:])
