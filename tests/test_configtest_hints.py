"""``configtest`` says where a Python job's own database settings belong when they are written one level
too high (the docs used to describe per-job database settings that were silently ignored)."""

from __future__ import annotations

import io
import textwrap

from crontabber.cli.main import main


def test_database_keys_in_the_class_section_point_to_the_database_subsection(tmp_path, monkeypatch):
    (tmp_path / "dbjobs.py").write_text(textwrap.dedent("""\
        from crontabber.base import BaseCronApp
        from crontabber.mixins import using_postgres, with_single_postgres_transaction


        @using_postgres()
        @with_single_postgres_transaction()
        class PurgeJob(BaseCronApp):
            app_name = "purge"

            def run(self, connection):
                connection.cursor().execute("SELECT 1")
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    ini = tmp_path / "crontabber.ini"
    ini.write_text("[crontabber]\njobs = dbjobs.PurgeJob|1d\n    [[class-PurgeJob]]\n    dbname = events\n")
    out = io.StringIO()
    assert main(["configtest", f"--admin.conf={ini}"], out, io.StringIO()) == 0
    assert (f"warning: {ini}:4: unknown option 'dbname' in [[class-PurgeJob]] is ignored; a job using "
            "the PostgreSQL mixins reads its connection from a [[[database]]] subsection of [[class-PurgeJob]]: "
            "host, port, dbname, user, password (each defaults to resource.postgresql's)") in out.getvalue()

    ini.write_text("[crontabber]\njobs = dbjobs.PurgeJob|1d\n    [[class-PurgeJob]]\n"
                   "        [[[database]]]\n        dbname = events\n")
    out = io.StringIO()
    assert main(["configtest", f"--admin.conf={ini}"], out, io.StringIO()) == 0
    assert "warning:" not in out.getvalue() and "note:" not in out.getvalue()
