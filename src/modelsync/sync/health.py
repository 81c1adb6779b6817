"""PURE: a gateway's health, and its status as the CLI and the API report it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
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
