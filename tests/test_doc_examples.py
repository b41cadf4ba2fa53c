"""Every fenced block of README.md and docs/*.md runs as written, so the docs cannot drift.

How each kind runs is in ``tests/docblocks.py``. The blocks of one document run in order in
one temporary copy of the checkout (a later step may use what an earlier one wrote), with
every job module and test file the docs define (``# myjobs.py`` blocks) written there. A
failure names the file, the line of the block's opening fence, the block, and why.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from tests import docblocks
from tests.docblocks import BIN, Block

RUNS = ("ini", "python", "sh", "sql")


def run_ini(block: Block, workspace: Path, env: dict[str, str]) -> str | None:
    """``crontabber configtest`` on the block as a complete ini; an ignored option is a fault too."""
    path = workspace / f"{block.path.stem}-line{block.line}.ini"
    path.write_text(block.text)
    code, output = docblocks.run_bounded([str(BIN / "crontabber"), "configtest", f"--admin.conf={path}"], workspace,
                                         {**env, "PYTHONPATH": str(workspace)}, 120)
    if code != 0:
        return f"crontabber configtest exits {code}:\n{docblocks._indent(output)}"
    ignored = [line for line in output.splitlines() if "is not a crontabber option" in line]
    if ignored:
        return "configtest ignores an option the example sets:\n" + docblocks._indent("\n".join(ignored))
    return None


def run_python(block: Block, workspace: Path, env: dict[str, str]) -> str | None:
    """A ``# NAME.py`` module is imported, a ``# test_*.py`` file run by pytest, anything else executed."""
    env = {**env, "PYTHONPATH": str(workspace)}
    name = block.module_name
    if name and name.startswith("test_"):
        command = [str(BIN / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", name]
        what = "pytest"
    elif name:  # as crontabber imports it (configman 1.3.0 needs crontabber's shim first on Python 3.10+)
        command = [str(BIN / "python"), "-c", f"import crontabber, {name[:-3]}"]
        what = f"importing {name[:-3]}"
    else:
        script = workspace / f"doc_block_{block.path.stem.replace('-', '_')}_{block.line}.py"
        script.write_text(block.text)
        command = [str(BIN / "python"), script.name]
        what = "python"
    code, output = docblocks.run_bounded(command, workspace, env, 300)
    return None if code == 0 else f"{what} exits {code}:\n{docblocks._indent(output)}"


def run_sql(block: Block, workspace: Path, env: dict[str, str]) -> str | None:
    """The statements, on a throwaway PostgreSQL database."""
    import psycopg2

    from tests.pg_support import temp_database

    with temp_database() as url:
        connection = psycopg2.connect(url)
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(block.text)
        except psycopg2.Error as exc:
            return f"PostgreSQL says: {str(exc).strip()}"
        finally:
            connection.close()
    return None


RUNNERS = {"ini": run_ini, "python": run_python, "sh": docblocks.run_shell, "sql": run_sql}


def why_not_runnable(block: Block) -> str | None:
    if block.kind is None:
        return (f"a block in {block.lang or 'no language'!r} is not run by the docs test: give it a language it "
                "runs (ini, python, sh, sql) or put `<!-- not run: <reason> -->` on the line before it")
    return None


@pytest.mark.parametrize("path", docblocks.DOCS, ids=lambda path: str(path.relative_to(docblocks.REPO)))
def test_doc_examples_run(path, tmp_path):
    found = docblocks.blocks(path)
    runnable = [block for block in found if not block.not_run and not block.installs]
    failures = [f"{block.describe()}: {why}" for block in runnable if (why := why_not_runnable(block))]
    runnable = [block for block in runnable if block.kind]
    if runnable:
        workspace = docblocks.checkout_copy(tmp_path / "checkout")
        (tmp_path / "home").mkdir()
        env = docblocks.environment(tmp_path / "home")
        for name, source in docblocks.doc_modules().items():  # job modules any document defines
            (workspace / name).write_text(source.text)
        for block in runnable:  # this document's own named files (# crontabber.ini)
            if block.kind == "ini" and block.file_name:
                (workspace / block.file_name).write_text(block.text)
        for block in runnable:
            why = RUNNERS[block.kind](block, workspace, env)
            if why:
                failures.append(f"{block.describe()}: {why}")
    assert not failures, "\n\n".join(["doc blocks that do not run as written:", *failures])


def test_doc_block_counts(capsys):
    """Say how many blocks run, how many are marked not run (and why), and which install."""
    counts: collections.Counter[str] = collections.Counter()
    reasons: collections.Counter[str] = collections.Counter()
    for block in docblocks.all_blocks():
        if block.not_run:
            counts["not run"] += 1
            reasons[block.not_run] += 1
            assert block.not_run.strip(), f"{block.describe()}: say why it is not run"
        elif block.installs:
            counts["run by tests/test_install.py"] += 1
        elif block.kind:
            counts[f"run ({block.kind})"] += 1
        else:
            counts["not runnable (a fault)"] += 1
    with capsys.disabled():
        print("\ndoc blocks: " + ", ".join(f"{count} {label}" for label, count in sorted(counts.items())))
        for reason, count in sorted(reasons.items()):
            print(f"  not run x{count}: {reason}")
    assert counts["not runnable (a fault)"] == 0
