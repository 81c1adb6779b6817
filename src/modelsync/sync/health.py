"""PURE: a gateway's health, and its status and the fleet's as the CLI and the API report them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from modelsync.domain import GatewayHealth, RunOutcome


class StatusFields(Protocol):
    """What a status shows of a gateway: a :class:`~modelsync.store.base.GatewayState` has it,
    and so has the API's lighter :class:`~modelsync.store.base.ServedGateway`."""

    @property
    def name(self) -> str: ...
    @property
    def tier(self) -> str: ...
    @property
    def interval_s(self) -> int: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def disabled_reason(self) -> str | None: ...
    @property
    def last_attempt_at(self) -> datetime | None: ...
    @property
    def last_success_at(self) -> datetime | None: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def last_outcome(self) -> RunOutcome | None: ...
    @property
    def consecutive_failures(self) -> int: ...
    @property
    def next_run_at(self) -> datetime | None: ...
    @property
    def quarantined(self) -> Mapping[str, str] | None: ...
    @property
    def model_count(self) -> int: ...
    @property
    def version(self) -> int: ...


class ProcessFields(Protocol):
    """What the fleet's status shows of a serving process: a
    :class:`~modelsync.store.base.ProcessRow` has it (with the database's now and catalog
    version), and so has the quick ``modelsync status``'s row (``cli/quick_status.py``)."""

    @property
    def id(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def pid(self) -> int: ...
    @property
    def version(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def last_seen_at(self) -> datetime: ...
    @property
    def applied_version(self) -> int: ...
    @property
    def behind_since(self) -> datetime | None: ...
    @property
    def now(self) -> datetime: ...
    @property
    def catalog_version(self) -> int: ...


def gateway_health(state: StatusFields, *, failing_after: int) -> GatewayHealth:
    """``pending`` until the first run ends, ``ok`` until a run fails, then ``degraded``, and
    ``failing`` from ``failing_after`` failures.

    A gateway that has never succeeded is ``failing`` from its first failure: there is no good
    catalog to fall back on.
    """
    if not state.enabled:
        return GatewayHealth.DISABLED
    failures = state.consecutive_failures
    if failures == 0:
        return GatewayHealth.OK if state.last_attempt_at is not None else GatewayHealth.PENDING
    if failures >= failing_after or state.last_success_at is None:
        return GatewayHealth.FAILING
    return GatewayHealth.DEGRADED


STATUS_FIELDS = (
    "gateway",
    "status",
    "tier",
    "interval_s",
    "last_attempt_at",
    "last_success_at",
    "last_outcome",
    "last_error",
    "consecutive_failures",
    "next_run_at",
    "model_count",
    "version",
    "quarantined",
)
"""The keys of :func:`status_json`, in order: what ``modelsync status --json`` prints."""


@lru_cache(maxsize=4096)
def _iso(value: datetime | None) -> str | None:
    """ISO 8601, memoized: a status page shows the same few run times on many gateways."""
    return value.isoformat() if value else None


def status_json(state: StatusFields, *, failing_after: int) -> dict[str, Any]:
    """One gateway's status in the shape of ``modelsync status --json`` and ``/api/sync/status``."""
    return {
        "gateway": state.name,
        "status": gateway_health(state, failing_after=failing_after).value,
        "tier": state.tier,
        "interval_s": state.interval_s,
        "last_attempt_at": _iso(state.last_attempt_at),
        "last_success_at": _iso(state.last_success_at),
        "last_outcome": state.last_outcome.value if state.last_outcome else None,
        "last_error": state.last_error if state.last_error else state.disabled_reason,
        "consecutive_failures": state.consecutive_failures,
        "next_run_at": _iso(state.next_run_at),
        "model_count": state.model_count,
        "version": state.version,
        "quarantined": quarantine_json(state.quarantined),
    }


def quarantine_json(quarantined: Mapping[str, str] | None) -> list[dict[str, str]]:
    """Quarantined entries as the API and ``--json`` show them: ``[{"id", "reason"}]``."""
    return [{"id": key, "reason": reason} for key, reason in (quarantined or {}).items()]


def lagging(row: ProcessFields, *, threshold_s: float, heartbeat_s: float) -> bool:
    """PURE: behind the store's catalog version for longer than ``threshold_s``, or silent for
    more than two heartbeats (still listed, not yet expired, but not reporting)."""
    if row.now - row.last_seen_at > timedelta(seconds=2 * heartbeat_s + 1):
        return True
    if row.applied_version >= row.catalog_version or row.behind_since is None:
        return False
    return row.now - row.behind_since > timedelta(seconds=threshold_s)


def process_json(row: ProcessFields, *, threshold_s: float, heartbeat_s: float) -> dict[str, Any]:
    """PURE: one process as ``/api/sync/status`` and ``modelsync status`` show it."""
    behind = (row.now - row.behind_since).total_seconds() if row.behind_since else 0.0
    return {
        "id": row.id,
        "host": row.host,
        "pid": row.pid,
        "version": row.version,
        "started_at": row.started_at.isoformat(),
        "applied_version": row.applied_version,
        "last_seen_at": row.last_seen_at.isoformat(),
        "behind_s": round(max(0.0, behind), 3),
        "lagging": lagging(row, threshold_s=threshold_s, heartbeat_s=heartbeat_s),
    }
