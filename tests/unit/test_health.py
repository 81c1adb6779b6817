"""A gateway's health and the status row the CLI and the API print."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from modelsync.domain import GatewayHealth
from modelsync.store.base import GatewayState
from modelsync.sync.health import STATUS_FIELDS, gateway_health, status_json

AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

STATE = GatewayState(
    name="groq",
    tier="high",
    interval_s=900,
    enabled=True,
    disabled_reason=None,
    last_attempt_at=AT,
    last_success_at=AT,
    last_error=None,
    last_outcome=None,
    consecutive_failures=0,
    next_run_at=None,
    model_count=14,
    version=3,
    etag=None,
    last_modified=None,
    body_hash=None,
    last_full_sync_at=None,
    lease_owner=None,
    lease_expires_at=None,
    fencing_token=0,
)


@pytest.mark.parametrize(
    ("enabled", "failures", "succeeded", "health"),
    [
        (True, 0, True, GatewayHealth.OK),
        (True, 0, False, GatewayHealth.OK),
        (True, 1, True, GatewayHealth.DEGRADED),
        (True, 2, True, GatewayHealth.DEGRADED),
        (True, 3, True, GatewayHealth.FAILING),
        (True, 1, False, GatewayHealth.FAILING),
        (False, 5, True, GatewayHealth.DISABLED),
    ],
)
def test_health(enabled: bool, failures: int, succeeded: bool, health: GatewayHealth) -> None:
    """Degraded after a failure, failing from the threshold or with no good catalog at all."""
    state = replace(
        STATE,
        enabled=enabled,
        consecutive_failures=failures,
        last_success_at=AT if succeeded else None,
    )
    assert gateway_health(state, failing_after=3) is health


def test_status_row_has_exactly_the_documented_fields() -> None:
    """The row's keys are STATUS_FIELDS, in order; a disabled gateway shows why in last_error."""
    row = status_json(replace(STATE, enabled=False, disabled_reason="no API key"), failing_after=3)
    assert tuple(row) == STATUS_FIELDS
    assert (row["status"], row["last_error"]) == ("disabled", "no API key")
    assert row["last_success_at"] == AT.isoformat()


def test_never_synced_is_pending() -> None:
    """A gateway no run has ended for is ``pending``, not ``ok`` (issue 7: 7)."""
    state = replace(STATE, last_attempt_at=None, last_success_at=None, consecutive_failures=0)
    assert gateway_health(state, failing_after=3) is GatewayHealth.PENDING
    assert status_json(state, failing_after=3)["status"] == "pending"
