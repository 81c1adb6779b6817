"""Logging set-up: structlog, JSON lines in production, pretty on a terminal; always to stderr.

Secrets never reach a log line: settings hold them as ``SecretStr`` and the HTTP layer never logs
request headers.
"""

from __future__ import annotations

import logging
import sys

import structlog


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

    def recovered(self, key: str, event: str, **fields: object) -> int:
        """End ``key``'s streak; logs ``event`` with the count when there was one. Returns it."""
        count = self._counts.pop(key, 0)
        if count:
            self._log.info(event, failures=count, **fields)
        return count

    def failing(self, key: str) -> int:
        """How many failures ``key``'s current streak has had (0 when it is not failing)."""
        return self._counts.get(key, 0)
