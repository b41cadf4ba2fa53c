"""Job failures to Sentry through ``sentry-sdk`` (FIX: 0.18.1 used raven, which is dead).

``sentry.dsn`` (or ``secrets.sentry.dsn``) turns it on; ``sentry-sdk`` is an optional
dependency. Events travel through a small synchronous transport of ours (a documented
sentry-sdk extension point), so every send has a bounded wait and its HTTP status is
known: a failed job's event id is logged as 0.18.1 logged raven's reference, and
``--sentrytest`` succeeds only when the server answered 2xx.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from crontabber import __version__

if TYPE_CHECKING:
    from crontabber.execution import Failure
    from crontabber.jobs import JobDefinition

log = logging.getLogger("crontabber")
FAILURE_TIMEOUT = 5.0  # seconds a failed job's event may hold up the tick
TEST_TIMEOUT = 10.0  # seconds --sentrytest waits for the server's answer
MISSING_SDK = ("sentry.dsn is set but sentry-sdk is not installed, so nothing is sent to Sentry: "
               "pip install sentry-sdk (or this project's [sentry] extra)")


def configured_dsn(config: Any) -> str:
    """The DSN from ``sentry.dsn``, else ``secrets.sentry.dsn`` (0.18.1 read either); '' if none.
    A launcher's configuration may lack either namespace."""
    for path in (("sentry", "dsn"), ("secrets", "sentry", "dsn")):
        node = config
        try:
            for part in path:
                node = node[part]
        except (KeyError, AttributeError, TypeError):
            continue
        if node:
            return str(node).strip()
    return ""


def describe_dsn(dsn: str) -> str:
    """The DSN's server and project, without its keys (for messages)."""
    from urllib.parse import urlsplit

    parts = urlsplit(dsn)
    return f"{parts.scheme}://{parts.hostname or '?'}{f':{parts.port}' if parts.port else ''}{parts.path}"


class Reporter:
    """Sends events for one DSN; ``last_status`` / ``last_problem`` say how the last send went."""

    def __init__(self, dsn: str, timeout: float = FAILURE_TIMEOUT) -> None:
        import sentry_sdk

        self.dsn = dsn
        self.transport = _transport_class()({"dsn": dsn}, timeout)
        self.client = sentry_sdk.Client(
            dsn=dsn, transport=self.transport, release=f"crontabber@{__version__}",
            server_name=socket.gethostname(), default_integrations=False,
            auto_enabling_integrations=False, include_local_variables=False)  # locals may hold secrets

    @contextlib.contextmanager
    def _scope(self) -> Iterator[Any]:
        """A scope of its own whose client is ours, so nothing leaks into (or from) other code
        in the process that uses sentry-sdk."""
        import sentry_sdk

        with sentry_sdk.new_scope() as scope:
            scope.set_client(self.client)
            yield scope

    def report_failure(self, job: JobDefinition, failure: Failure) -> str | None:
        """Send one failed run (job, class, traceback, host); the event id when the server took it."""
        with self._scope() as scope:
            scope.set_tag("job", job.app_name)
            scope.set_tag("job_class", job.target)
            scope.set_tag("job_kind", job.kind)
            scope.set_extra("schedule", job.entry.schedule_text)
            exception = getattr(failure, "exception", None)
            if exception is not None:
                event_id = scope.capture_exception(exception)
            else:  # the job failed in a forked child: only its text came back
                scope.set_extra("traceback", failure.traceback)
                event_id = scope.capture_event({
                    "level": "error", "message": f"{job.app_name} failed: {failure.one_line()}",
                    "exception": {"values": [{"type": failure.type, "value": failure.value}]}})
        return event_id if self.transport.ok else None

    def send_test(self) -> str | None:
        """``--sentrytest``: one message event; its id when the server answered 2xx."""
        with self._scope() as scope:
            event_id = scope.capture_message("Sentry test sent from crontabber", level="info")
        return event_id if self.transport.ok else None


def _transport_class() -> type:
    """Our synchronous transport (built on first use, so crontabber imports without sentry-sdk)."""
    from sentry_sdk.transport import Transport

    class SyncTransport(Transport):
        """POST each envelope at once with a bounded wait; remember the answer."""

        def __init__(self, options: dict[str, Any], timeout: float) -> None:
            super().__init__(options)
            self.timeout = timeout
            self.last_status: int | None = None
            self.last_problem: str | None = None

        @property
        def ok(self) -> bool:
            return self.last_status is not None and 200 <= self.last_status < 300

        def capture_envelope(self, envelope: Any) -> None:
            import urllib.error
            import urllib.request

            auth = self.parsed_dsn.to_auth(f"crontabber/{__version__}")
            request = urllib.request.Request(
                auth.get_api_url(), data=envelope.serialize(), method="POST", headers={
                    "Content-Type": "application/x-sentry-envelope", "X-Sentry-Auth": auth.to_header(),
                    "User-Agent": f"crontabber/{__version__}"})
            self.last_status, self.last_problem = None, None
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    self.last_status = response.status
            except urllib.error.HTTPError as exc:
                self.last_status = exc.code
                self.last_problem = f"the server answered {exc.code} {exc.reason}"
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                self.last_problem = f"no answer within {self.timeout:g} s ({reason})"

    return SyncTransport


class FailureReporter:
    """The runner's ``on_failure`` hook: report each failed run, never failing the tick itself."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._reporter: Reporter | None = None

    def __call__(self, job: JobDefinition, failure: Failure) -> None:
        try:
            if self._reporter is None:
                self._reporter = Reporter(self.dsn)
            event_id = self._reporter.report_failure(job, failure)
        except Exception as exc:  # Sentry is less important than the tick carrying on
            log.warning("could not send %s's failure to Sentry at %s: %s: %s", job.app_name,
                        describe_dsn(self.dsn), type(exc).__name__, exc)
            return
        if event_id:
            log.info("Error captured in Sentry. Reference: %s", event_id)
        else:
            log.warning("could not send %s's failure to Sentry at %s: %s", job.app_name,
                        describe_dsn(self.dsn), self._reporter.transport.last_problem)


def failure_reporter(dsn: str) -> FailureReporter | None:
    """The hook for a DSN: None without one, or (with one warning) without sentry-sdk."""
    if not dsn:
        return None
    try:
        import sentry_sdk  # noqa: F401
    except ImportError:
        log.warning(MISSING_SDK)
        return None
    return FailureReporter(dsn)


def sentrytest(config: Any) -> tuple[bool, str]:
    """Send a test event; (True, line) only when the server answered 2xx within 10 s."""
    from crontabber.errors import ConfigError

    dsn = configured_dsn(config)
    if not dsn:
        raise ConfigError("sentry.dsn is not configured: set [sentry] dsn = https://<key>@<host>/<project>")
    try:
        import sentry_sdk  # noqa: F401
    except ImportError:
        raise ConfigError(MISSING_SDK) from None
    try:
        reporter = Reporter(dsn, timeout=TEST_TIMEOUT)
    except Exception as exc:  # sentry-sdk rejects a malformed DSN
        raise ConfigError(f"sentry.dsn is not a valid Sentry DSN ({exc})") from None
    event_id = reporter.send_test()
    if event_id:
        return True, f"Sentry successful identifier: {event_id} ({describe_dsn(dsn)})"
    problem = reporter.transport.last_problem or "the event was not sent"
    return False, f"Sentry test failed: {describe_dsn(dsn)}: {problem}"
