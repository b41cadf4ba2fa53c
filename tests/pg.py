"""A throwaway database on the test PostgreSQL server (CRONTABBER_TEST_DSN)."""

import contextlib
import os
import uuid
from urllib.parse import urlsplit, urlunsplit

DSN = os.environ.get("CRONTABBER_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def scratch_database(prefix="ct"):
    """Create a uniquely named database, yield its URL, drop it afterwards."""
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(DSN)
    admin.autocommit = True
    try:
        admin.cursor().execute(f'CREATE DATABASE "{name}"')
        parts = urlsplit(DSN)
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
