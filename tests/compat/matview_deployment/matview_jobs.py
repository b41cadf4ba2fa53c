# Stored-procedure ("matview") jobs written the way a large 0.18.1 deployment wrote them:
# a base class with a transaction per run, backfill subclasses that pass the date to the
# procedure, a class with its own run_proc, and config.logger after every call.
# Python 2 and 3 at once (it runs on crontabber 0.18.1 too); do not modernise.
import datetime

from crontabber.base import BaseCronApp
from crontabber.datetimeutil import utc_now
from crontabber.mixins import (
    as_backfill_cron_app,
    with_postgres_transactions,
    with_single_postgres_transaction,
)


@with_postgres_transactions()
@with_single_postgres_transaction()
class _MatViewBase(BaseCronApp):

    app_version = '1.0'
    app_description = ""

    proc_name = None  # subclasses name their procedure

    def get_proc_name(self):
        return self.proc_name

    def run_proc(self, connection, signature=None):
        cursor = connection.cursor()
        if signature:
            cursor.callproc(self.get_proc_name(), signature)
        else:
            cursor.callproc(self.get_proc_name())
        self.config.logger.info('%s ran with %r', self.get_proc_name(), signature)

    def run(self, connection):
        self.run_proc(connection)


@as_backfill_cron_app
class _MatViewBackfillBase(_MatViewBase):

    def run(self, connection, date):
        target_date = (date - datetime.timedelta(days=1)).date()
        self.run_proc(connection, [target_date])


class ProductVersionsCronApp(_MatViewBase):
    proc_name = 'update_product_versions'
    app_name = 'product-versions-matview'


class SignaturesCronApp(_MatViewBackfillBase):
    proc_name = 'update_signatures'
    app_name = 'signatures-matview'
    depends_on = ('product-versions-matview',)


class ADUCronApp(_MatViewBackfillBase):
    proc_name = 'update_adu'
    app_name = 'adu-matview'
    depends_on = ('product-versions-matview',)


class TCBSCronApp(_MatViewBackfillBase):
    proc_name = 'update_tcbs'
    app_name = 'tcbs-matview'
    depends_on = ('signatures-matview', 'adu-matview')

    def run_proc(self, connection, signature=None):
        # its own procedure signature: the date, then whether to check the whole period
        cursor = connection.cursor()
        cursor.callproc(self.get_proc_name(), list(signature) + [False])
        self.config.logger.info('%s ran for %s', self.get_proc_name(), signature[0])


class DuplicatesCronApp(_MatViewBase):
    proc_name = 'update_reports_duplicates'
    app_name = 'duplicates'

    def run(self, connection):
        start_time = utc_now() - datetime.timedelta(hours=3)
        end_time = start_time + datetime.timedelta(hours=1)
        self.run_proc(connection, [start_time, end_time])
