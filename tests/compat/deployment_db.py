"""A deployment's own connection class, shaped like Socorro's ConnectionContext: its own keys
(``database_hostname``, ``database_name``...), a new connection per ``with`` block."""

import contextlib
import socket

import psycopg2
from configman import Namespace, RequiredConfig

MADE: list = []  # the configs the class was instantiated with


class ConnectionContext(RequiredConfig):
    required_config = Namespace()
    for _key, _default in (("database_hostname", "localhost"), ("database_name", "breakpad"),
                           ("database_port", 5432), ("database_username", "breakpad_rw"),
                           ("database_password", "aPassword")):
        required_config.add_option(_key, default=_default, reference_value_from="resource.postgresql",
                                   secret=_key == "database_password")
    del _key, _default

    def __init__(self, config, local_config=None):
        self.config = config
        MADE.append({key: config[key] for key in ("database_hostname", "database_name", "database_username")})
        self.operational_exceptions = (psycopg2.OperationalError, psycopg2.InterfaceError, socket.timeout)
        self.conditional_exceptions = (psycopg2.ProgrammingError,)

    def connection(self, name_unused=None):
        return psycopg2.connect(host=self.config.database_hostname, dbname=self.config.database_name,
                                port=self.config.database_port, user=self.config.database_username,
                                password=self.config.database_password)

    @contextlib.contextmanager
    def __call__(self, name=None):
        connection = self.connection()
        try:
            yield connection
        finally:
            connection.close()

    def close_connection(self, connection, force=False):
        connection.close()

    def force_reconnect(self):
        pass

    def is_operational_exception(self, msg):
        return False
