"""Logging set-up: structlog, JSON lines in production, pretty on a terminal; always to stderr.

Secrets never reach a log line: settings hold them as ``SecretStr`` and the HTTP layer never logs
request headers.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Awaitable, Callable

import structlog
from starlette.types import Message, Receive, Scope, Send


def report_errors(
    logger: object, method: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """A structlog processor: an ``error`` line goes to Sentry too (when a DSN is set), its
    exception captured, tagged with the line's ``gateway``, ``run_id``, ``trigger`` and
    ``request_id``. Other fields stay in the log (they are not sent)."""
    if method in ("error", "exception", "critical"):
        # Sentry is on only once ``init_sentry`` ran, which imported the module: a command that
        # never starts it does not pay for the SDK's import (a seventh of ``modelsync status``).
        sentry = sys.modules.get("modelsync.observability.sentry")
        if sentry is not None and sentry.enabled():
            sentry.capture_error_line(event_dict)
    return event_dict


def configure_logging(level: str = "INFO", *, json: bool | None = None) -> None:
    """Route structlog and the standard library to stderr at ``level``.

    ``json=None`` picks JSON lines unless stderr is a terminal. ``DEBUG`` is the troubleshooting
    mode: every request and every skipped run is logged.
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    as_json = (not sys.stderr.isatty()) if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            report_errors,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr, force=True)
    # httpx logs every request URL at INFO, and Gemini's key may ride in a query string.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class FailureStreaks:
    """One log line when something starts failing, one when it recovers; silence in between.

    During an outage the same failure repeats every tick and every run: logging each would bury
    the log (hundreds of tracebacks a minute). Per key (a gateway, the scheduler's tick), the
    first failure of a streak is logged as a warning (with its traceback when ``exc_info``), the
    rest only at debug level, and the recovery once, with how many failures the streak had.
    """

    def __init__(self, logger: structlog.typing.FilteringBoundLogger) -> None:
        self._log = logger
        self._counts: dict[str, int] = {}

    def failed(
        self, key: str, event: str, *, exc_info: bool | BaseException = False, **fields: object
    ) -> int:
        """Count a failure of ``key``; returns its place in the streak (1 for the first)."""
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        if count == 1:
            self._log.warning(event, exc_info=exc_info, **fields)
        else:
            self._log.debug(event, failures=count, **fields)
        return count

    def count(self, key: str) -> int:
        """Count a failure of ``key`` without logging it (the caller logs); its place."""
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        return count

    def recovered(self, key: str, event: str, **fields: object) -> int:
        """End ``key``'s streak; logs ``event`` with the count when there was one. Returns it."""
        count = self._counts.pop(key, 0)
        if count:
            self._log.info(event, failures=count, **fields)
        return count

    def failing(self, key: str) -> int:
        """How many failures ``key``'s current streak has had (0 when it is not failing)."""
        return self._counts.get(key, 0)


_access_log = structlog.get_logger("modelsync.http")


async def logged_request(
    answer: Callable[[Scope, Receive, Send], Awaitable[None]],
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    """Answer a request and log it at debug level: method, path (no query: it may hold a
    filter a user typed, never a secret of ours, but it is not needed), status, time."""
    started = time.perf_counter()
    status = 0

    async def sending(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        await send(message)

    try:
        await answer(scope, receive, sending)
    finally:
        _access_log.debug(
            "http_request",
            method=scope.get("method"),
            path=scope.get("path"),
            status=status,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
