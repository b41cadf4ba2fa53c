"""Jobs whose output and errors are hostile to a ledger: NUL bytes, undecodable text, passwords."""

import os

from crontabber.base import BaseCronApp


class NulRaiser(BaseCronApp):
    """Fails with a message holding a NUL byte and a lone surrogate (undecodable bytes)."""

    app_name = "nul-raiser"

    def run(self):
        raise ValueError("a\x00b \udcff end")


class UrlRaiser(BaseCronApp):
    """Fails with the URL in ``HOSTILE_URL`` in its message (a job that reports its connection)."""

    app_name = "url-raiser"

    def run(self):
        raise RuntimeError(f"cannot use {os.environ['HOSTILE_URL']}")
