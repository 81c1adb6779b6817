"""Canonical identity around the runs: the operator's overrides on every fresh snapshot, and the
migration of stored ids when the rules or the overrides change (:mod:`modelsync.identity`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog

from modelsync.clock import Clock
from modelsync.domain import Model
from modelsync.errors import PayloadError
from modelsync.gateways.base import GatewayAdapter
from modelsync.identity import Identity, IdentityOverrides, with_identity
from modelsync.identity.unmatched import unmatched
from modelsync.store.base import IdentityMigration, Store

log = structlog.get_logger("modelsync.identity")


class IdentityUpkeep:
    """Applies ``overrides``; ``adapter_of`` names a gateway's adapter (``None``: unknown)."""

    def __init__(
        self, overrides: IdentityOverrides, adapter_of: Callable[[str], GatewayAdapter | None]
    ) -> None:
        self.overrides = overrides
        self._adapter_of = adapter_of

    def overridden(self, model: Model) -> Model:
        """``model`` with the operator's overrides applied (the same object when none applies)."""
        identity = Identity(model.id, model.provider_slug or "", model.variants)
        corrected = self.overrides.apply(model.gateway, model.gateway_model_id, identity)
        return model if corrected is identity else with_identity(model, corrected)

    def reidentified(self, model: Model) -> Model:
        """A stored model under today's rules and overrides (unchanged: an unknown gateway)."""
        adapter = self._adapter_of(model.gateway)
        if adapter is None:
            return model
        try:
            identity = adapter.stored_identity(model)
        except PayloadError:
            return model
        corrected = self.overrides.apply(model.gateway, model.gateway_model_id, identity)
        return with_identity(model, corrected)

    async def migrate(self, store: Store, clock: Clock) -> IdentityMigration | None:
        """Migrate the stored canonical ids when the rules or overrides changed (once)."""
        migration = await store.migrate_identities(
            self.overrides.fingerprint(), self.reidentified, now=clock.now()
        )
        if migration is not None:
            log.info(
                "identity.migrated",
                renamed=migration.renamed,
                rewritten=migration.rewritten,
                catalog_version=migration.catalog_version,
            )
        return migration


async def unmatched_page(
    store: Store, *, gateway: str | None, limit: int, offset: int
) -> dict[str, Any]:
    """The unmatched report as the API and the CLI serve it (computed off the event loop)."""
    offers = await store.offer_index()
    report = await asyncio.to_thread(unmatched, offers, gateway=gateway, limit=limit, offset=offset)
    return {
        "catalog_version": await store.catalog_version(),
        "total": report.total,
        "count": len(report.models),
        "models": [model.to_json() for model in report.models],
    }
