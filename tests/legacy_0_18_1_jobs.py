"""Job modules as written for crontabber 0.18.1 (Python 3 syntax), used without edits."""

from configman import Namespace

from crontabber.base import BaseCronApp, PostgresBackfillCronApp, SubprocessMixin
from crontabber.mixins import (
    as_backfill_cron_app,
    using_postgres,
    with_postgres_connection_as_argument,
    with_postgres_transactions,
    with_single_postgres_transaction,
    with_subprocess,
)


@with_postgres_transactions()
@with_single_postgres_transaction()
class InsertRowCronApp(BaseCronApp):
    app_name = "insert-row"
    app_description = "Inserts a row in one transaction"
    required_config = Namespace()
    required_config.add_option("note", default="from crontabber")

    def run(self, connection):
        cursor = connection.cursor()
        cursor.execute("INSERT INTO api_notes (note) VALUES (%s)", (self.config.note,))


@with_postgres_transactions()
@with_single_postgres_transaction()
class RollbackCronApp(BaseCronApp):
    app_name = "rolls-back"

    def run(self, connection):
        connection.cursor().execute("INSERT INTO api_notes (note) VALUES ('never committed')")
        raise RuntimeError("undo that")


@using_postgres()
@with_postgres_connection_as_argument()
@as_backfill_cron_app
class DatedRowsCronApp(BaseCronApp):
    app_name = "dated-rows"
    depends_on = "insert-row"

    def run(self, connection, date):
        cursor = connection.cursor()
        cursor.execute("INSERT INTO api_notes (note) VALUES (%s)", (date.date().isoformat(),))
        connection.commit()


class SocorroStyleBackfill(PostgresBackfillCronApp):
    app_name = "socorro-backfill"

    def run(self, connection, date):
        cursor = connection.cursor()
        cursor.execute("INSERT INTO api_notes (note) VALUES (%s)", ("socorro " + date.date().isoformat(),))
        connection.commit()


@with_subprocess
class EchoCronApp(BaseCronApp):
    app_name = "echo"

    def run(self):
        code, out, err = self.run_process(["echo", "hello world"])
        assert code == 0 and out == "hello world" and isinstance(out, str), (code, out, err)


class SocorroSubprocess(SubprocessMixin):
    app_name = "socorro-subprocess"

    def run(self):
        code, out, err = self.run_process("echo oops >&2; exit 3")
        assert (code, out, err) == (3, "", "oops"), (code, out, err)
