"""What a sync run tells the outside: log context, metrics, Sentry and analytics, in one place.

The runner opens :meth:`RunObserver.run` around each run and reports the finished run to
:meth:`RunObserver.finished`; its stages go through :func:`stage`. Inside a run every log line
carries ``run_id`` (a fresh 16-hex id; the stored run's integer id is ``stored_run_id`` in the
summary line) and ``gateway`` (structlog's context variables), each HTTP answer from the gateway
is counted for it, and the run's Sentry scope tags any error.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

import structlog

from modelsync.domain import ChangeKind, GatewayHealth, SyncPlan
from modelsync.observability.analytics import Analytics
from modelsync.observability.metrics import CURRENT_GATEWAY, metrics
from modelsync.observability.sentry import SentryRun, past_span, span
from modelsync.store.base import GatewayState, RunRecord
from modelsync.sync.health import gateway_health

MAX_EVENT_IDS = 100
"""The most model ids one analytics event lists."""


@dataclass(slots=True)
class RunScope:
    gateway: str
    trigger: str
    run_id: str
    started: float
    sentry: SentryRun
    requests: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


_SCOPE: ContextVar[RunScope | None] = ContextVar("modelsync_run", default=None)


def current_run() -> RunScope | None:
    """The run the current task is in."""
    return _SCOPE.get()


def stage(name: str) -> Any:
    """A context manager around one stage of the current run (a Sentry span)."""
    return span(name)


def stages_done(stages: Sequence[str], times: Sequence[float]) -> None:
    """Stages of the current run that ran off the loop: ``times`` are their wall-clock
    boundaries (one more than the stages)."""
    for name, started, ended in zip(stages, times, times[1:], strict=False):
        past_span(name, started, ended)


def count_request() -> None:
    """One HTTP request of the current run (the summary's ``attempts``)."""
    scope = _SCOPE.get()
    if scope is not None:
        scope.requests += 1


class RunObserver:
    """Shared by every run of a process; ``analytics`` is optional."""

    def __init__(self, *, analytics: Analytics | None = None, failing_after: int = 3) -> None:
        self.analytics = analytics
        self._failing_after = failing_after

    @contextmanager
    def run(self, gateway: str, trigger: str, *, interval_s: int) -> Iterator[RunScope]:
        run_id = uuid.uuid4().hex[:16]
        scope = RunScope(
            gateway,
            trigger,
            run_id,
            time.monotonic(),
            SentryRun(gateway, run_id, trigger, interval_s),
        )
        token = _SCOPE.set(scope)
        gateway_token = CURRENT_GATEWAY.set(gateway)
        try:
            with (
                structlog.contextvars.bound_contextvars(
                    run_id=run_id, gateway=gateway, trigger=trigger
                ),
                scope.sentry.running(),
            ):
                yield scope
        finally:
            CURRENT_GATEWAY.reset(gateway_token)
            _SCOPE.reset(token)

    def finished(
        self,
        before: GatewayState,
        record: RunRecord,
        *,
        plan: SyncPlan | None,
        error: BaseException | None,
        stored_run_id: int | None = None,
        catalog_version: int | None = None,
    ) -> dict[str, Any]:
        """Count the run, close its Sentry transaction and check-in, queue its analytics; the
        fields the summary log line adds (attempts, bytes, ids)."""
        scope = _SCOPE.get()
        duration_s = (time.monotonic() - scope.started) if scope else record.duration_ms / 1000
        m = metrics()
        name = record.gateway
        m.run_finished(name, record.outcome.value, duration_s)
        for kind, count in (
            (ChangeKind.ADDED, record.added),
            (ChangeKind.UPDATED, record.updated),
            (ChangeKind.REMOVED, record.removed),
            (ChangeKind.RESTORED, record.restored),
        ):
            m.changes(name, kind.value, count)
        if scope is not None:
            scope.sentry.finished(ok=record.succeeded, duration_s=duration_s, error=error)
        if self.analytics is not None:
            self._analytics(self.analytics, before, record, plan, duration_s)
        return {
            "attempts": scope.requests if scope else None,
            "bytes": record.bytes,
            "http_status": record.http_status,
            "duration_ms": round(duration_s * 1000),
            "stored_run_id": stored_run_id,
            "catalog_version": catalog_version,
        }

    def _analytics(
        self,
        analytics: Analytics,
        before: GatewayState,
        record: RunRecord,
        plan: SyncPlan | None,
        duration_s: float,
    ) -> None:
        name = record.gateway
        if record.succeeded:
            analytics.capture(
                "models synced",
                name,
                outcome=record.outcome.value,
                trigger=record.trigger.value,
                added=record.added,
                updated=record.updated,
                removed=record.removed,
                restored=record.restored,
                total_models=record.total_models,
                duration_ms=round(duration_s * 1000),
            )
        was = gateway_health(before, failing_after=self._failing_after)
        after = replace(
            before,
            consecutive_failures=0 if record.succeeded else before.consecutive_failures + 1,
            last_success_at=record.finished_at if record.succeeded else before.last_success_at,
        )
        now = gateway_health(after, failing_after=self._failing_after)
        if (was is GatewayHealth.FAILING) != (now is GatewayHealth.FAILING):
            analytics.capture(
                "gateway availability changed",
                name,
                available=now is not GatewayHealth.FAILING,
                status=now.value,
                previous_status=was.value,
            )
        if plan is None:
            return
        for kind, event in (
            (ChangeKind.ADDED, "models added"),
            (ChangeKind.REMOVED, "models removed"),
        ):
            ids = [change.id for change in plan.changes if change.kind is kind]
            if ids:
                analytics.capture(event, name, count=len(ids), model_ids=ids[:MAX_EVENT_IDS])
