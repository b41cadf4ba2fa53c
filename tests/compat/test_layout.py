"""The 0.18.1 faces sit on top of the engine: no engine module (nor the job API) imports a face.

A face is a module that exists because 0.18.1 code imports its path; it is short, says in
its docstring which 0.18.1 module it stands for, and only re-exports and adapts the engine.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "crontabber"
FACES = ("app", "generic_app", "datetimeutil", "dbapi2_util", "connection_factory", "transaction_executor")
JOB_API = ("base", "mixins")


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path, root: Path = PACKAGE.parent) -> set[str]:
    """Every module an import statement in ``path`` names (relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    name = _module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _below_the_faces() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py")
                  if not (path.parent == PACKAGE and path.stem in FACES))


def test_the_engine_and_the_job_api_never_import_a_face():
    faces = {f"crontabber.{name}" for name in FACES}
    offenders = {str(path.relative_to(PACKAGE.parent)): sorted(_imported(path) & faces)
                 for path in _below_the_faces()}
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_scan_sees_relative_and_from_imports(tmp_path):
    """The scanner itself: a module that imports a face in each spelling is caught."""
    sample = PACKAGE / "cli" / "main.py"
    assert "crontabber.errors.ConfigError" in _imported(sample)
    fake = tmp_path / "crontabber" / "cli" / "x.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("from .. import app\nfrom ..generic_app import main\nimport crontabber.datetimeutil\n")
    assert {"crontabber.app", "crontabber.generic_app", "crontabber.datetimeutil"} <= _imported(fake, tmp_path)


@pytest.mark.parametrize("name", FACES)
def test_a_face_is_short_and_names_the_module_it_stands_for(name):
    source = (PACKAGE / f"{name}.py").read_text()
    docstring = ast.get_docstring(ast.parse(source)) or ""
    assert docstring.startswith(f"Face of crontabber 0.18.1's ``crontabber.{name}``")
    assert len(source.splitlines()) <= 300
