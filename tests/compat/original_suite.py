"""crontabber 0.18.1's own test suite, fetched at run time and made to run against this package.

Nothing of 0.18.1 is kept in this repository. ``load()``:

1. downloads the 0.18.1 sdist from the package index with pip (once; cached in
   ``~/.cache/crontabber-compat`` or ``$CRONTABBER_COMPAT_CACHE``) and checks its sha256;
2. copies its ``crontabber/tests`` folder into a temporary folder, applying only the
   mechanical Python 2 -> 3 edits listed in ``EDITS`` (each must match exactly as often as
   listed, so a different sdist cannot slip through);
3. makes that folder importable as ``crontabber.tests`` by appending it to
   ``crontabber.__path__`` (the tests name their jobs ``crontabber.tests.test_crontabber.X``),
   installs the nose shim, and imports the test modules.

``database_config(url)`` points the suite at a scratch PostgreSQL database the way a 0.18.1
developer did: ``test-crontabber.ini`` in the working folder.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from urllib.parse import unquote, urlsplit

from tests.compat import nose_shim

VERSION = "0.18.1"
SDIST = f"crontabber-{VERSION}.tar.gz"
SHA256 = "dfe4086a23928647bb021ba0a8bf3e7bb9e86792042506dcca5040061b310d3e"
MODULES = ("test_crontabber", "test_crontab_mixins", "test_datetimeutil", "test_subprocess_mixin",
           "test_transaction_executor")

# (file, text, replacement, times, why): the only changes made to 0.18.1's tests.
EDITS: tuple[tuple[str, str, str, int, str], ...] = (
    ("base.py", "from collections import Sequence, Mapping, defaultdict",
     "from collections import defaultdict\nfrom collections.abc import Sequence, Mapping", 1,
     "collections ABCs live in collections.abc"),
    ("base.py", "basestring", "str", 2, "basestring is str"),
    ("test_crontabber.py", "from cStringIO import StringIO", "from io import StringIO", 1,
     "cStringIO is io"),
    ("test_crontabber.py", "eq_(structure.keys(), ['foo'])", "eq_(list(structure.keys()), ['foo'])", 1,
     "dict.keys() is a view, not a list"),
    ("test_subprocess_mixin.py", "print stdout, stderr", "print(stdout, stderr)", 1,
     "print is a function"),
    ("sampleapp.py", "print >>sys.stdout, options.out", "print(options.out, file=sys.stdout)", 1,
     "print is a function"),
    ("sampleapp.py", "print >>sys.stderr, options.err", "print(options.err, file=sys.stderr)", 1,
     "print is a function"),
    ("sampleapp.py", "#!/usr/bin/env python\n", "#!/usr/bin/env python3\n", 1,
     "the script's interpreter is Python 3"),
)


def cache_folder() -> Path:
    return Path(os.environ.get("CRONTABBER_COMPAT_CACHE") or Path.home() / ".cache" / "crontabber-compat")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sdist() -> Path:
    """The verified 0.18.1 sdist, downloaded with pip the first time."""
    folder = cache_folder()
    target = folder / SDIST
    if target.is_file() and _sha256(target) == SHA256:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:  # another session may download at once
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", f"crontabber=={VERSION}", "--no-deps",
             "--no-binary", ":all:", "--disable-pip-version-check", "-q", "-d", tmp],
            capture_output=True, text=True, timeout=300)
        fetched = Path(tmp) / SDIST
        if done.returncode != 0 or not fetched.is_file():
            raise RuntimeError(f"pip download crontabber=={VERSION} failed: {done.stderr.strip()[-500:]}")
        if _sha256(fetched) != SHA256:
            raise RuntimeError(f"{SDIST} from the index does not have the expected sha256 {SHA256}")
        os.replace(fetched, target)
    return target


def edited_tests(archive: Path, into: Path) -> Path:
    """Extract 0.18.1's tests folder into ``into/tests`` with ``EDITS`` applied; return ``into``."""
    prefix = f"crontabber-{VERSION}/crontabber/tests/"
    tests = into / "tests"
    tests.mkdir(parents=True)
    pending = {(edit[0], edit[1]): edit for edit in EDITS}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if not (member.isfile() and member.name.startswith(prefix)):
                continue
            name = member.name[len(prefix):]
            text = tar.extractfile(member).read().decode("utf-8")
            for file, old, new, times, _why in EDITS:
                if file == name:
                    found = text.count(old)
                    if found != times:
                        raise RuntimeError(f"edit of {name}: expected {old!r} {times} time(s), found {found}")
                    text = text.replace(old, new)
                    pending.pop((file, old))
            (tests / name).write_text(text, encoding="utf-8")
            (tests / name).chmod(0o755 if member.mode & 0o100 else 0o644)
    if pending:
        raise RuntimeError(f"edits that matched no file: {sorted(pending)}")
    return into


def load() -> dict[str, ModuleType]:
    """Fetch, edit and import 0.18.1's test modules as ``crontabber.tests.<name>``."""
    overlay = Path(tempfile.mkdtemp(prefix="crontabber-0.18.1-tests-"))
    atexit.register(shutil.rmtree, overlay, True)
    edited_tests(sdist(), overlay)
    nose_shim.install()
    import crontabber

    crontabber.__path__.append(str(overlay))
    with warnings.catch_warnings():  # Python 3 warns about 0.18.1's '\s' in plain strings
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        return {name: importlib.import_module(f"crontabber.tests.{name}") for name in MODULES}


def test_classes(modules: dict[str, ModuleType]) -> dict[str, type]:
    """Every TestCase class with tests that the modules define, by name (names are unique)."""
    found: dict[str, type] = {}
    loader = unittest.TestLoader()
    for module in modules.values():
        for name, value in vars(module).items():
            if (isinstance(value, type) and issubclass(value, unittest.TestCase)
                    and value.__module__ == module.__name__ and loader.getTestCaseNames(value)):
                if name in found:
                    raise RuntimeError(f"two 0.18.1 test classes are named {name}")
                found[name] = value
    return found


@contextlib.contextmanager
def database_config(url: str) -> Iterator[Path]:
    """Run in a temporary folder holding ``test-crontabber.ini`` for ``url``: 0.18.1's tests read
    their database from that file in the working folder (its docs/developer/runningtests.rst)."""
    parts = urlsplit(url)
    values = {"host": parts.hostname or "localhost", "port": str(parts.port or 5432),
              "dbname": unquote(parts.path.lstrip("/")), "user": unquote(parts.username or ""),
              "password": unquote(parts.password or "")}
    before = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="crontabber-0.18.1-cwd-") as folder:
        lines = ["[resource]", "    [[postgresql]]"] + [f"    {key}={value}" for key, value in values.items()]
        (Path(folder) / "test-crontabber.ini").write_text("\n".join(lines) + "\n")
        os.chdir(folder)
        try:
            yield Path(folder)
        finally:
            os.chdir(before)
