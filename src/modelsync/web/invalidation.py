"""The invalidation sources of a serving process (issue 8 item 2), wired to its hub.

* :data:`OFF_LOOP_IDS`: how big a run's invalidation is before its tags are computed off the
  loop (the service's :class:`~modelsync.web.services.LocalRuns` invalidates its own runs).
* :class:`HealthWatch`: every run started or ended in this process drops the status; a gateway
  whose health moves (ok -> degraded -> failing, the breaker opening, the recovery) drops the
  gateway-status rule of DESIGN section 7.
* :func:`canonical_ids`: a webhook's raw gateway model ids as the adapter identifies them
  (``accounts/fireworks/models/x`` -> ``fireworks/x``), the operator's overrides applied.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from modelsync.cache.hub import Invalidations
from modelsync.cache.tags import for_gateway_status, for_sync_status
from modelsync.errors import StoreError
from modelsync.store.base import Store
from modelsync.sync.health import StatusFields, gateway_health
from modelsync.sync.runner import SyncRunner

log = structlog.get_logger("modelsync.cache")

OFF_LOOP_IDS = 2_000
"""A run changing more models than this computes its tags in a thread, off the event loop."""

HealthKey = tuple[str, bool]
"""A gateway's health and whether its breaker is open: a change of either is a status change."""


def health_key(state: StatusFields, *, breaker_threshold: int) -> HealthKey:
    """PURE: what of a gateway's state the gateway-status invalidation follows."""
    health = gateway_health(state, failing_after=breaker_threshold)
    return health.value, state.consecutive_failures >= breaker_threshold


class HealthWatch:
    """Follows each gateway's health across the runs of this process (a scheduler observer)."""

    def __init__(self, hub: Invalidations, store: Store, *, breaker_threshold: int) -> None:
        self._hub = hub
        self._store = store
        self._threshold = breaker_threshold
        self._known: dict[str, HealthKey] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Learn every gateway's current health (no invalidation)."""
        for state in await self._store.gateway_states():
            self._known[state.name] = health_key(state, breaker_threshold=self._threshold)

    def observe(self, gateway: str, finished: bool) -> None:
        """A run of ``gateway`` started (``finished`` False) or ended: invalidate in the
        background (the scheduler's callbacks never wait)."""
        task = asyncio.create_task(self.check(gateway, finished=finished))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def check(self, gateway: str, *, finished: bool) -> None:
        """Drop the status; after a run, compare the gateway's health with the last known."""
        try:
            if not finished:
                await self._hub.apply(for_sync_status(gateway), reason=f"run {gateway} started")
                return
            states = await self._store.gateway_states([gateway])
            invalidation = for_sync_status(gateway)
            reason = f"run {gateway} ended"
            if states:
                key = health_key(states[0], breaker_threshold=self._threshold)
                before = self._known.get(gateway)
                self._known[gateway] = key
                if before is not None and before != key:
                    invalidation = invalidation | for_gateway_status(gateway)
                    reason = f"health {gateway} {_describe(before)} -> {_describe(key)}"
            await self._hub.apply(invalidation, reason=reason)
        except StoreError:  # the database away: the status answers expire by their lifetime
            log.debug("cache.health_check_failed", gateway=gateway, exc_info=True)
        except Exception:  # the cache backend away: logged, the entries expire by themselves
            log.warning("cache.health_invalidation_failed", gateway=gateway, exc_info=True)

    async def drain(self) -> None:
        """Wait for the pending checks (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _describe(key: HealthKey) -> str:
    health, open_breaker = key
    return f"{health}+open-breaker" if open_breaker else health


def canonical_ids(runner: SyncRunner) -> Callable[[str, Mapping[str, Any]], str]:
    """``(gateway, webhook model) -> canonical id``, as a sync of that gateway would identify
    the model (its adapter's rules, then the operator's identity overrides)."""
    overrides = runner.identity.overrides

    def canonical(gateway: str, model: Mapping[str, Any]) -> str:
        resolved = runner.gateways.get(gateway)
        raw_id = str(model["id"])
        if resolved is None:
            return raw_id
        adapter = runner.adapter(resolved)
        try:
            identity = adapter.identify(raw_id, model)
        except Exception:  # a hint never fails on identity: its raw id is dropped instead
            log.debug("cache.webhook_identity_failed", gateway=gateway, exc_info=True)
            return raw_id
        return overrides.apply(gateway, raw_id, identity).id if overrides else identity.id

    return canonical
