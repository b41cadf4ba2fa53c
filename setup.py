"""crontabber: the cron job runner that ends "email from cron", plus an Airflow bridge."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "crontabber" / "__init__.py").read_text()).group(1)

POSTGRES = ["psycopg2-binary>=2.9"]
SENTRY = ["sentry-sdk>=2.0,<3"]
AIRFLOW = ["apache-airflow==3.3.*", "apache-airflow-providers-standard",
           "apache-airflow-providers-common-sql", "apache-airflow-providers-postgres", "asyncpg"]
# celery 5.7.0 kills the scheduler and workers (ImportError: cannot import name 'retry' from
# 'celery.backends.database'); this set works with Airflow 3.3 (docs/airflow.md, the live test tier)
CELERY = ["apache-airflow-providers-celery==3.26.0", "celery[redis]==5.6.3"]

setup(
    name="crontabber-ng",
    version=VERSION,
    description="A cron job runner with dependencies, retries, backfill, locking, Nagios "
                "and an Airflow bridge; compatible with Mozilla's crontabber 0.18.1",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MPL-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["crontabber", "crontabber.*", "airflow_bridge", "airflow_bridge.*"]),
    package_data={"crontabber": ["examples/*.ini", "sh/*.sh"]},
    install_requires=["configman==1.3.0", "configobj>=5", "cronsim>=2.6", "tzdata"],
    extras_require={
        "postgres": POSTGRES,
        "sentry": SENTRY,
        "airflow": AIRFLOW + POSTGRES,
        "celery": AIRFLOW + POSTGRES + CELERY,
        "test": POSTGRES + AIRFLOW + CELERY + SENTRY + ["pytest>=8", "ruff", "prometheus-client>=0.20", "mock>=5",
                                                   "httpx", "websockets"],
    },
    entry_points={
        "console_scripts": ["crontabber = crontabber.cli.main:main"],
        "pytest11": ["crontabber = crontabber.testing"],
        "airflow.plugins": ["crontabber = airflow_bridge.plugin:CrontabberPlugin"],
    },
    classifiers=["Programming Language :: Python :: 3", "Topic :: System :: Systems Administration"],
)
