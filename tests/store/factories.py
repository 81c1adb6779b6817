"""Builders for the store tests: models, runs, and plans computed by the real diff and guard."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from modelsync.diff import diff_catalogs
from modelsync.domain import ChangeSource, Model, Pricing, RunOutcome, SyncPlan
from modelsync.guard import GuardPolicy, plan_sync
from modelsync.store.base import GatewayRegistration, RunRecord, RunResult, Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = GuardPolicy(max_shrink=0.9, removal_misses=2)


def at(seconds: float) -> datetime:
    """``T0`` plus some seconds."""
    return T0 + timedelta(seconds=seconds)


def registration(name: str, **overrides: Any) -> GatewayRegistration:
    """An enabled high-tier gateway."""
    values: dict[str, Any] = {"name": name, "tier": "high", "interval_s": 900, "enabled": True}
    values.update(overrides)
    return GatewayRegistration(**values)


def model(gateway: str, n: int, **overrides: Any) -> Model:
    """Model number ``n`` of a gateway, with prices, modalities and extra fields."""
    values: dict[str, Any] = {
        "gateway": gateway,
        "gateway_model_id": f"Vendor{n % 3}/Model-{n}",
        "id": f"vendor{n % 3}/model-{n}",
        "name": f"Model {n}",
        "description": f"The model number {n}",
        "provider_slug": f"vendor{n % 3}",
        "context_length": 8192 * (n + 1),
        "max_output_tokens": 4096,
        "pricing": Pricing(prompt=Decimal("0.15"), completion=Decimal("0.6")),
        "input_modalities": ("image", "text"),
        "output_modalities": ("text",),
        "supported_parameters": ("max_tokens", "temperature"),
        "extra": {"created": 1700000000 + n, "architecture": {"tokenizer": "Llama3"}},
    }
    values.update(overrides)
    return Model(**values)


def run_record(
    gateway: str,
    outcome: RunOutcome = RunOutcome.CHANGED,
    *,
    started: datetime = T0,
    **overrides: Any,
) -> RunRecord:
    """A run of one second that started at ``started``."""
    values: dict[str, Any] = {
        "gateway": gateway,
        "trigger": ChangeSource.POLL,
        "outcome": outcome,
        "started_at": started,
        "finished_at": started + timedelta(seconds=1),
    }
    values.update(overrides)
    return RunRecord(**values)


async def plan_for(store: Store, gateway: str, snapshot: Sequence[Model]) -> SyncPlan:
    """The plan the runner would compute: stored catalog vs snapshot, through diff and guard."""
    stored = await store.load_catalog(gateway)
    current = {m.gateway_model_id: m for m in snapshot}
    diff = diff_catalogs(stored.entries, current)
    return plan_sync(gateway, diff, total_models=len(current), policy=POLICY)


async def sync(
    store: Store, gateway: str, snapshot: Sequence[Model], *, now: datetime, owner: str = "w1"
) -> RunResult:
    """One successful leased run that applies ``snapshot``, as the runner does it."""
    grant = await store.acquire_lease(gateway, owner, ttl_s=60)
    assert grant is not None
    plan = await plan_for(store, gateway, snapshot)
    outcome = RunOutcome.UNCHANGED if plan.is_empty else RunOutcome.CHANGED
    run = run_record(
        gateway, outcome, started=now - timedelta(seconds=1), total_models=len(snapshot)
    )
    return await store.finish_run(run, plan, lease=grant.lease, now=now)
