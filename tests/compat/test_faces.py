"""Every name 0.18.1 code touches works, not just imports (issue 9 items 1-7), where 0.18.1's own
suite does not look: the ``crontabber`` command with 0.18.1 inis, a launcher run by
``generic_app.main``, the embedded ledger behind the 0.18.1 mapping, and the 0.18.1 helpers."""

import io
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest
from configman import ConfigurationManager

from crontabber import __version__, app, generic_app
from crontabber.app import CronTabberBase
from crontabber.cli.main import main as cli_main
from crontabber.generic_app import App
from crontabber.outcomes import Outcome
from tests.compat import deployment_db, face_jobs
from tests.pg_support import execute, temp_database

F = "tests.compat.face_jobs."
J = "tests.jobs_for_tests."


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = cli_main([str(arg) for arg in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def resource_section(url: str, prefix: str = "") -> str:
    parts = urlsplit(url)
    return (f"[resource]\n    [[postgresql]]\n    {prefix}host{'name' if prefix else ''} = {parts.hostname}\n"
            f"    {prefix}port = {parts.port}\n    {prefix}{'name' if prefix else 'dbname'} = {parts.path[1:]}\n"
            f"    {prefix}user{'name' if prefix else ''} = {parts.username}\n")


@pytest.fixture(autouse=True)
def _clear_seen():
    face_jobs.SEEN.clear()
    deployment_db.MADE.clear()


# -- item 1: config.logger ---------------------------------------------------------------
def test_a_job_logs_through_config_logger_where_the_runner_logs(tmp_path):
    ini = write(tmp_path / "crontabber.ini", f"[crontabber]\ndatabase_url = sqlite:///{tmp_path}/l.sqlite\n"
                                             f"jobs = {F}LoggingJob|1h\n")
    code, _, err = cli(f"--admin.conf={ini}", "--logging.stderr_error_logging_level=20")
    assert code == 0 and "logging-job says hello" in err
    assert face_jobs.SEEN[-1].name == "crontabber.logging-job"  # a logger named for the job


# -- item 4: the decorators meet a class's own main and __init__ as in 0.18.1 -------------
def test_the_backfill_decorator_replaces_the_class_own_main(harness):
    harness.configure([f"{F}OwnMainBackfillJob|1d", f"{F}SubclassWithOwnMain|1d"])
    results = harness.tick()
    assert results["own-main-backfill"].outcome is Outcome.SUCCEEDED
    assert ("own-main-backfill", harness.clock.now()) in face_jobs.SEEN
    assert ("subclass-own-main", "own main") in face_jobs.SEEN  # a subclass's own main still wins


def test_resources_exist_before_the_class_own_init(harness):
    import datetime as dt

    with temp_database() as url:
        harness.configure(f"{F}InitUsesResourcesJob|1d", extra=resource_section(url))
        assert harness.tick()["init-uses-resources"].outcome is Outcome.SUCCEEDED
    assert face_jobs.SEEN == [("init-uses-resources", dt.date(2026, 1, 5), "TransactionExecutor")]


# -- item 6: which ledger an unchanged 0.18.1 ini lands on ---------------------------------
def test_a_deployment_connection_class_with_its_own_keys_holds_the_ledger(tmp_path):
    with temp_database() as url:
        ini = write(tmp_path / "crontabber.ini", f"""[crontabber]
database_class = tests.compat.deployment_db.ConnectionContext
transaction_executor_class = crontabber.transaction_executor.TransactionExecutorWithLimitedBackoff
jobs = {J}FooJob|1h
{resource_section(url, prefix="database_")}    database_password =
""")
        code, out, err = cli("configtest", f"--admin.conf={ini}")
        assert code == 0, out + err
        assert "ledger PostgreSQL via tests.compat.deployment_db.ConnectionContext" in out
        assert f"(crontabber.database_class = tests.compat.deployment_db.ConnectionContext, {ini}:2)" in out
        assert "not a crontabber option" not in out and "not acted on" not in out
        assert cli(f"--admin.conf={ini}")[0] == 0
        assert execute(url, "SELECT app_name, error_count FROM crontabber") == [("foo", 0)]
        assert deployment_db.MADE[-1]["database_name"] == urlsplit(url).path[1:]
        code, out, _ = cli("list", f"--admin.conf={ini}")
        assert code == 0 and f"127.0.0.1:{urlsplit(url).port}/{urlsplit(url).path[1:]}" not in out
        assert "ledger: PostgreSQL via tests.compat.deployment_db.ConnectionContext" in out
    assert not list(tmp_path.glob("*.sqlite"))


def test_a_0_18_1_file_naming_no_database_exits_2_and_says_to_set_database_url(tmp_path):
    ini = write(tmp_path / "crontabber.ini", f"""[crontabber]
jobs = {J}FooJob|1h
[resource]
    [[postgresql]]
    # host = db1.example.com
    # dbname = crontabber
""")
    for argv in ([], ["configtest"], ["list"]):
        code, out, err = cli(*argv, f"--admin.conf={ini}")
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and f"{ini}:3 ([resource] section)" in err
        assert "set crontabber.database_url = postgresql://" in err
    assert not list(tmp_path.glob("*.sqlite"))


def test_configtest_says_which_ledger_and_why(tmp_path):
    ini = write(tmp_path / "crontabber.ini", f"[crontabber]\njobs = {J}FooJob|1h\n")
    code, out, _ = cli("configtest", f"--admin.conf={ini}")
    assert code == 0 and f"ledger sqlite:///{tmp_path}/crontabber.sqlite (the embedded default" in out
    with temp_database() as url:
        write(ini, f"[crontabber]\njobs = {J}FooJob|1h\n{resource_section(url)}")
        code, out, _ = cli("configtest", f"--admin.conf={ini}")
        assert code == 0 and f"(0.18.1's PostgreSQL keys, {ini}:5)" in out
        write(ini, f"[crontabber]\njobs = {J}FooJob|1h\ndbname = {urlsplit(url).path[1:]}\n")
        code, out, _ = cli("configtest", f"--admin.conf={ini}")  # 0.18.1's ledger read crontabber.dbname too
        assert code == 0 and f"localhost:5432/{urlsplit(url).path[1:]} (0.18.1's PostgreSQL keys, {ini}:3)" in out


# -- item 7: --list-jobs prints 0.18.1's blocks; list keeps the table ------------------------
def test_list_jobs_prints_0_18_1_blocks_and_list_the_table(tmp_path):
    ini = write(tmp_path / "crontabber.ini", f"""[crontabber]
database_url = sqlite:///{tmp_path}/l.sqlite
jobs = '''
    {J}FooJob|1h
    {J}BackfillJob|1d|03:00
    job:cleanup|2h
'''
    [[job-cleanup]]
    command = false
""")
    assert cli(f"--admin.conf={ini}")[0] == 0
    code, out, _ = cli("--list-jobs", f"--admin.conf={ini}")
    assert code == 0 and out.count("=== JOB " + "=" * 72 + "\n") == 3
    blocks = {re.search(r"App name:\s+(\S+)", block).group(1): block for block in out.split("=== JOB ")[1:]}
    assert blocks["foo"].startswith("=" * 72 + "\nClass:          tests.jobs_for_tests.FooJob\n")
    assert "Frequency:      1d @ 03:00\n" in blocks["backfill"]
    assert "Class:          job:cleanup\nApp name:       cleanup\nFrequency:      2h\n" in blocks["cleanup"]
    assert re.search(r"Last run:       \d{4}-\d\d-\d\d \d\d:\d\d:\d\d  \(\d+ seconds? ago\)\n", blocks["foo"])
    assert "Last success:   no previous successful run\n" in blocks["cleanup"]
    assert "Error!!         (1 times)\nTraceback (most recent call last):\n" in blocks["cleanup"]
    assert "<class 'crontabber.legacy.shell.ShellCommandFailed'>: exit code 1" in blocks["cleanup"]
    assert cli("list", "--format", "blocks", f"--admin.conf={ini}")[1] == out
    code, table, _ = cli("list", f"--admin.conf={ini}")
    assert table.split()[:3] == ["JOB", "STATE", "LAST"] and "ShellCommandFailed: exit code 1" in table


# -- item 2: CronTabber and JobStateDatabase over the embedded ledger too ----------------------
def test_crontabber_and_its_job_state_database_on_sqlite(tmp_path, calls):
    manager = ConfigurationManager([app.CronTabber.get_required_config()], argv_source=[], values_source_list=[{
        "crontabber.database_url": f"sqlite:///{tmp_path}/l.sqlite",
        "crontabber.jobs": f"{J}FooJob|1h\n{J}BarJob|1h"}])
    with manager.context() as config:
        tab = app.CronTabber(config)
        assert [result.outcome for result in tab.run_all()] == [Outcome.SUCCEEDED] * 2
        database = tab.job_state_database
        assert database.has_data() and sorted(database) == ["bar", "foo"] and "foo" in database
        assert database["bar"]["depends_on"] == ["foo"] and set(database.items()[0][1]) == {
            "next_run", "first_run", "last_run", "last_success", "depends_on", "error_count", "last_error"}
        snapshot = database.copy()
        snapshot["foo"]["error_count"] = 3
        database.update(snapshot)
        assert database.get("foo")["error_count"] == 3 and database.get("nope", "default") == "default"
        stream = io.StringIO()
        assert tab.nagios(stream) == 2 and stream.getvalue().startswith("CRITICAL - foo")
        assert database.pop("foo")["error_count"] == 3 and "foo" not in database
        with pytest.raises(KeyError):
            del database["foo"]
        assert tab._get_ghosts() == set() and tab.run_one("foo").outcome is Outcome.SUCCEEDED


# -- item 2: a launcher subclassing CronTabberBase, run by generic_app.main -------------------
class Launcher(CronTabberBase, App):
    required_config = CronTabberBase.required_config.safe_copy()
    required_config.crontabber.add_option(
        "jobs", default=f"{J}FooJob|1h, {J}BrokenJob|1h",
        from_string_converter=CronTabberBase.required_config.crontabber.jobs.from_string_converter)
    required_config.add_option("team", default="ops")

    def main(self):
        assert self.config.team == "ops"  # the launcher's own option is there
        return super().main()


def launch(monkeypatch, capsys, *argv):
    monkeypatch.setattr(sys, "argv", ["launcher", *argv])
    code = generic_app.main(Launcher)
    out, err = capsys.readouterr()
    return code, out, err


def test_a_launcher_runs_with_0_18_1_flags_and_our_exit_codes(tmp_path, monkeypatch, capsys, calls):
    ini = write(tmp_path / "launcher.ini", f"[crontabber]\ndatabase_url = sqlite:///{tmp_path}/l.sqlite\n"
                                           "[logging]\nstderr_error_logging_level = 40\n")
    conf = f"--admin.conf={ini}"
    assert launch(monkeypatch, capsys, conf)[0] == 0 and calls == [("broken",), ("foo",)]
    code, out, _ = launch(monkeypatch, capsys, conf, "--nagios")
    assert code == 2 and out.startswith("CRITICAL - broken")
    code, out, _ = launch(monkeypatch, capsys, conf, "--list-jobs")
    assert code == 0 and out.count("=== JOB ") == 2
    code, _, err = launch(monkeypatch, capsys, conf, "--job", "nope")
    assert code == 2 and err.startswith("crontabber: error: no job 'nope' is configured")
    assert launch(monkeypatch, capsys, conf, "--job", "broken", "--force")[0] == 1
    assert launch(monkeypatch, capsys, conf, "-j", "foo", "-f")[0] == 0
    assert launch(monkeypatch, capsys, conf, "--configtest")[0] == 0
    assert launch(monkeypatch, capsys, conf, "--reset-job", "broken")[0] == 0
    code, out, _ = launch(monkeypatch, capsys, conf, "--audit-ghosts")
    assert code == 0 and out == ""
    assert launch(monkeypatch, capsys, conf, "--version")[1] == f"{__version__}\n"
    code, _, err = launch(monkeypatch, capsys, conf, "--sentrytest")
    assert code == 2 and "sentry.dsn is not configured" in err


def test_a_launcher_with_0_18_1_defaults_exits_2_and_says_to_set_database_url(tmp_path, monkeypatch, capsys):
    code, out, err = launch(monkeypatch, capsys, f"--admin.conf={write(tmp_path / 'x.ini', '')}")
    assert code == 2 and out == ""
    assert "every key at its default" in err and "set crontabber.database_url" in err


# -- item 3: the 0.18.1 helpers against a real server ------------------------------------------
def test_connection_factory_pools_per_thread_and_dbapi2_util_shortcuts():
    import threading

    from configman.dotdict import DotDict

    from crontabber import dbapi2_util as db
    from crontabber.connection_factory import ConnectionFactory

    with temp_database() as url:
        parts = urlsplit(url)
        config = DotDict({"host": parts.hostname, "port": parts.port, "dbname": parts.path[1:],
                          "user": parts.username, "password": ""})
        factory = ConnectionFactory(config)
        assert factory.connection() is factory.connection()
        other = []
        thread = threading.Thread(target=lambda: other.append(factory.connection()))
        thread.start()
        thread.join(30)
        assert other and other[0] is not factory.connection()
        with factory() as connection:
            db.execute_no_results(connection, "CREATE TABLE t (n int)")
            db.execute_no_results(connection, "INSERT INTO t VALUES (%s), (%s)", (1, 2))
            assert db.single_value_sql(connection, "SELECT count(*) FROM t") == 2
            assert db.single_row_sql(connection, "SELECT min(n), max(n) FROM t") == (1, 2)
            assert list(db.execute_query_iter(connection, "SELECT n FROM t ORDER BY n")) == [(1,), (2,)]
            with pytest.raises(db.SQLDidNotReturnSingleValue):
                db.single_value_sql(connection, "SELECT n FROM t WHERE n > 5")
            connection.rollback()
        assert not connection.closed  # the context manager keeps pooled connections open
        factory.close_connection(connection, force=True)
        assert connection.closed and factory.connection() is not connection
        assert factory.IntegrityError is psycopg2.IntegrityError
        assert psycopg2.OperationalError in factory.operational_exceptions
        factory.close()


def test_the_base_helpers():
    from crontabber import base

    assert base.convert_frequency("3h") == 10800
    with pytest.raises(base.FrequencyDefinitionError):
        base.convert_frequency("3e")
    assert base.toposort_flatten({"c": {"b"}, "b": {"a"}, "x": set()}) == ["a", "x", "b", "c"]
    assert issubclass(app.RowLevelLockError, psycopg2.OperationalError)
    assert issubclass(app.BrokenJSONError, ValueError)
