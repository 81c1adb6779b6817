"""Sentry (``SENTRY_DSN``): errors tagged by run, a transaction per run, a cron monitor per gateway.

* **Errors**: a run's internal error, and a request's unhandled one, are captured with the tags
  ``gateway``, ``run_id`` and ``trigger`` (requests: ``request_id``).
* **Performance**: each run is a transaction (``op`` ``sync.run``) with spans ``sync.fetch``,
  ``sync.normalize``, ``sync.diff`` and ``sync.apply``. Only runs are traced: requests are not
  sampled (a webhook flood would be a transaction flood).
* **Crons**: each scheduled run checks in to the monitor ``modelsync-<gateway>``: ``in_progress``,
  then ``ok`` or ``error``, the monitor's schedule the gateway's interval, so a sync that stops
  happening (a dead fleet, an open breaker) or keeps failing alerts.

Without a DSN nothing here does anything (each call checks :func:`enabled`), and the SDK is not
even imported (about 5 MB of a CLI sync's peak memory). The DSN is a secret:
it is never logged, and events carry no request headers or local variables.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any

from modelsync import __version__

RUN_OP = "sync.run"
SPANS = ("fetch", "normalize", "diff", "apply")
_enabled = False


def init_sentry(dsn: str | None, *, environment: str | None = None) -> bool:
    """Start the SDK when ``dsn`` is set; whether it is on."""
    global _enabled  # noqa: PLW0603 - the SDK itself is process-global
    if not dsn:
        return False
    import sentry_sdk  # noqa: PLC0415 - the SDK only once it is on (5 MB of a CLI sync's memory)
    from sentry_sdk.integrations.logging import LoggingIntegration  # noqa: PLC0415

    sentry_sdk.init(
        dsn=dsn,
        release=f"modelsync@{__version__}",
        environment=environment,
        traces_sampler=_sample,
        include_local_variables=False,
        auto_enabling_integrations=False,
        integrations=[LoggingIntegration(event_level=None)],
    )
    _enabled = True
    return True


def close_sentry(timeout_s: float = 2.0) -> None:
    """Send what is queued and stop the SDK (at shutdown, and between tests)."""
    global _enabled  # noqa: PLW0603
    if _enabled:
        import sentry_sdk  # noqa: PLC0415

        client = sentry_sdk.get_client()
        client.flush(timeout=timeout_s)
        client.close(timeout=timeout_s)
        _enabled = False


def enabled() -> bool:
    return _enabled


def _sample(context: dict[str, Any]) -> float:
    """Trace runs, not requests."""
    transaction = context.get("transaction_context") or {}
    return 1.0 if transaction.get("op") == RUN_OP else 0.0


def monitor_slug(gateway: str) -> str:
    return "modelsync-" + "".join(c if c.isalnum() or c == "-" else "-" for c in gateway.lower())


def monitor_config(interval_s: int) -> dict[str, Any]:
    """PURE: the monitor of a gateway polled every ``interval_s`` seconds (Sentry counts in
    minutes); a check-in may be a fifth of an interval late, and a run lasts at most one."""
    minutes = max(1, math.ceil(interval_s / 60))
    return {
        "schedule": {"type": "interval", "value": minutes, "unit": "minute"},
        "checkin_margin": max(1, minutes // 5),
        "max_runtime": max(1, minutes),
    }


class SentryRun:
    """One run's transaction, tags and check-in (inert without a DSN)."""

    def __init__(self, gateway: str, run_id: str, trigger: str, interval_s: int) -> None:
        self.gateway = gateway
        self.run_id = run_id
        self.trigger = trigger
        self.interval_s = interval_s
        self._check_in: str | None = None
        self._cron = trigger == "poll"

    @contextmanager
    def running(self) -> Iterator[None]:
        """The run's scope and transaction; opens the check-in of a scheduled run."""
        if not _enabled:
            yield
            return
        import sentry_sdk  # noqa: PLC0415

        with sentry_sdk.isolation_scope() as scope:
            scope.set_tag("gateway", self.gateway)
            scope.set_tag("run_id", self.run_id)
            scope.set_tag("trigger", self.trigger)
            if self._cron:
                self._check_in = sentry_sdk.crons.capture_checkin(
                    monitor_slug=monitor_slug(self.gateway),
                    status="in_progress",
                    monitor_config=monitor_config(self.interval_s),  # type: ignore[arg-type]
                )
            with sentry_sdk.start_transaction(
                op=RUN_OP, name=f"sync {self.gateway}", source="task"
            ) as transaction:
                transaction.set_tag("gateway", self.gateway)
                transaction.set_tag("run_id", self.run_id)
                transaction.set_tag("trigger", self.trigger)
                yield

    def finished(self, *, ok: bool, duration_s: float, error: BaseException | None) -> None:
        """Capture the run's internal error, set the transaction's status, close the check-in."""
        if not _enabled:
            return
        import sentry_sdk  # noqa: PLC0415

        if error is not None:
            sentry_sdk.capture_exception(error)
        span = sentry_sdk.get_current_span()
        if span is not None:
            span.set_status("ok" if ok else "internal_error")
        if self._cron:
            sentry_sdk.crons.capture_checkin(
                monitor_slug=monitor_slug(self.gateway),
                check_in_id=self._check_in,
                status="ok" if ok else "error",
                duration=duration_s,
                monitor_config=monitor_config(self.interval_s),  # type: ignore[arg-type]
            )


def span(stage: str) -> Any:
    """A span of the current run's transaction (``fetch``, ``normalize``, ``diff``, ``apply``)."""
    if not _enabled:
        return nullcontext()
    import sentry_sdk  # noqa: PLC0415

    return sentry_sdk.start_span(op=f"sync.{stage}", name=stage)


TAGGED = ("gateway", "run_id", "trigger", "request_id")


def capture_error_line(event_dict: Mapping[str, Any]) -> None:
    """An error log line as a Sentry event: its exception (or its event name as the message),
    tagged with the line's run or request fields."""
    import sentry_sdk  # noqa: PLC0415

    error = event_dict.get("exc_info")
    if error is True:
        error = sys.exc_info()[1]
    with sentry_sdk.new_scope() as scope:
        for key in TAGGED:
            if event_dict.get(key) is not None:
                scope.set_tag(key, str(event_dict[key]))
        if isinstance(error, BaseException):
            sentry_sdk.capture_exception(error)
        else:
            sentry_sdk.capture_message(str(event_dict.get("event")), level="error")


def past_span(stage: str, started: float, ended: float) -> None:
    """A span of the current run's transaction for a stage that ran elsewhere (a worker thread
    or process), from its wall-clock start and end."""
    if not _enabled:
        return
    import sentry_sdk  # noqa: PLC0415

    span = sentry_sdk.start_span(
        op=f"sync.{stage}", name=stage, start_timestamp=datetime.fromtimestamp(started, UTC)
    )
    span.finish(end_timestamp=datetime.fromtimestamp(ended, UTC))
