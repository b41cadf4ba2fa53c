# Runs the deployment's launcher with the clock wound to $CRONTABBER_FAKE_NOW
# (YYYY-mm-ddTHH:MM:SS, UTC), on crontabber 0.18.1 and here alike: it patches the names
# 0.18.1's own tests patch. Python 2 and 3 at once; do not modernise.
import datetime
import os
import sys

import crontabber.datetimeutil


def fake_utc_now():
    naive = datetime.datetime.strptime(os.environ['CRONTABBER_FAKE_NOW'], '%Y-%m-%dT%H:%M:%S')
    return naive.replace(tzinfo=crontabber.datetimeutil.UTC())


crontabber.datetimeutil.utc_now = fake_utc_now
import crontabber.app  # noqa: E402
import crontabber.base  # noqa: E402

crontabber.app.utc_now = fake_utc_now
crontabber.base.utc_now = fake_utc_now

from matview_deployment.launcher import MatViewCronTabber  # noqa: E402

from crontabber.generic_app import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main(MatViewCronTabber))
