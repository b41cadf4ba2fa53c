"""Text a ledger cannot store as it is (issue 10, item 1): a NUL byte in a job's output or error,
undecodable bytes, text a database's encoding cannot hold. It is stored escaped, with a note
that says so, on both stores; the job is never left "running" and the tick goes on.
"""

from __future__ import annotations

import io

from crontabber.cli.main import main
from crontabber.outcomes import Outcome
from crontabber.state import open_ledger
from tests.pg_support import TEST_DSN, admin, with_database

NOTE = "[crontabber: characters the ledger cannot store are written as \\x00 / \\udcXX escapes]"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def write_ini(folder, url: str) -> str:
    ini = folder / "crontabber.ini"
    ini.write_text(f"""[crontabber]
database_url = {url}
jobs = '''
    job:binary|1h
    tests.hostile_jobs.NulRaiser|1h
    job:nul-output|1h
    job:zz-after|1h
'''
[[job-binary]]
command = printf '\\377\\376 bytes \\000 and more\\n'
[[job-nul-output]]
command = printf 'x\\000y'
[[job-zz-after]]
command = echo after
""")
    return str(ini)


def test_nul_bytes_and_binary_output_are_stored_escaped_and_the_tick_goes_on(tmp_path, store_url):
    ini = write_ini(tmp_path, store_url)
    code, _, err = cli("run", f"--admin.conf={ini}")
    assert code == 0, err
    assert "Traceback" not in err and "NUL" not in err
    ledger = open_ledger(store_url)
    try:
        rows = ledger.load_all()
        assert set(rows) == {"binary", "nul-raiser", "nul-output", "zz-after"}
        assert all(row.ongoing is None for row in rows.values())  # nobody left "running"
        assert rows["zz-after"].last_success is not None  # the jobs after it ran
        assert rows["nul-output"].last_success is not None
        output = ledger.logs("nul-output")[0].output
        assert output == "x\\x00y " + NOTE
        binary = ledger.logs("binary")[0].output
        assert "\ufffd\ufffd bytes \\x00 and more" in binary and binary.endswith(NOTE)
        failed = rows["nul-raiser"]
        assert failed.error_count == 1 and failed.last_error["value"] == "a\\x00b \\udcff end " + NOTE
        entry = ledger.logs("nul-raiser")[0]
        assert entry.outcome is Outcome.FAILED and "a\\x00b \\udcff end" in entry.exc_value
    finally:
        ledger.close()
    code, out, _ = cli("nagios", f"--admin.conf={ini}")
    assert code == 2 and "nul-raiser" in out and "a\\x00b" in out  # not "OK"
    code, out, _ = cli("list", "--format", "json", f"--admin.conf={ini}")
    assert code == 0 and "\\u0000" not in out


def test_text_the_database_encoding_cannot_hold_is_stored_as_ascii(tmp_path):
    """A LATIN1 database refuses most of Unicode: the write is retried as ASCII with escapes."""
    name = "crontabber_latin1_text"
    conn = admin()
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            cursor.execute(f"CREATE DATABASE {name} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' "
                           "TEMPLATE template0")
        url = with_database(TEST_DSN, name)
        ini = tmp_path / "crontabber.ini"
        ini.write_text(f"""[crontabber]
database_url = {url}
jobs = '''
    job:unicode|1h
    job:zz-after|1h
'''
[[job-unicode]]
command = sh -c 'echo "price: 5 € ✓ 日本"; exit 3'
[[job-zz-after]]
command = echo after
""")
        code, _, err = cli("run", f"--admin.conf={ini}")
        assert code == 0, err
        ledger = open_ledger(url)
        rows = ledger.load_all()
        assert rows["unicode"].ongoing is None and rows["unicode"].error_count == 1
        assert rows["zz-after"].last_success is not None
        output = ledger.logs("unicode")[0].output
        assert "price: 5 \\u20ac \\u2713 \\u65e5\\u672c" in output and output.endswith("cannot hold the text]")
        ledger.close()
    finally:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.close()
