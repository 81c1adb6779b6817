"""The I/O shell of the reference price catalogs: fetch each on its schedule, keep its last good
table in the store, hand the runner the current tables, and re-price the gateways it changed.

* **A failing fetch never removes a price**: the last good table stays (in the store and here),
  the failure is logged once per streak and shown in :meth:`ReferencePrices.status`.
* **One table for every process**: a fetch whose content changed is stored; before each run the
  runner asks :meth:`ReferencePrices.current`, which reloads the tables when the store's stamps
  differ from the ones loaded (one small read).
* **A reference price change is a change with source ``reference``**: the gateways whose
  reference prices changed get a run with trigger ``reference`` that reads every entry again
  (:meth:`ReferencePrices.reprice`); one that fails stays pending for the next refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from modelsync.clock import Clock
from modelsync.config import REFERENCE_DEFAULTS, ResolvedGateway, Settings
from modelsync.domain import ChangeSource, Model
from modelsync.errors import ConfigError, PayloadError, StoreError, SyncError
from modelsync.gateways.base import GatewayAdapter, GatewayConfig, Page
from modelsync.gateways.registry import build_adapter
from modelsync.observability import FailureStreaks
from modelsync.reference.table import ReferenceTable, build_table, changed_gateways
from modelsync.store.base import Store, StoredReference
from modelsync.sync.listing import PageFetcher, fetch_listing
from modelsync.sync.offload import INLINE, Offload

if TYPE_CHECKING:
    from modelsync.sync.runner import RunSummary, SyncRunner

log = structlog.get_logger("modelsync.reference")

LABELS = {"modelsdev": "models.dev"}
"""The name a source's prices carry when it differs from the configured name."""


@dataclass(frozen=True, slots=True)
class ReferenceSource:
    """One configured reference catalog."""

    name: str
    kind: str
    url: str
    interval_s: int

    @property
    def label(self) -> str:
        return LABELS.get(self.name, self.name)


def reference_sources(settings: Settings) -> list[ReferenceSource]:
    """The enabled reference catalogs, in name order (the order they enrich in)."""
    found: list[ReferenceSource] = []
    for name, config in sorted(settings.references.items()):
        if not config.enabled:
            continue
        kind, url = REFERENCE_DEFAULTS.get(name, (None, None))
        kind = config.kind or kind
        url = config.url or url
        if kind is None or url is None:
            raise ConfigError(
                f"reference catalog {name!r} needs a kind (modelsdev or litellm) and a url"
            )
        found.append(ReferenceSource(name, kind, url, config.interval_s))
    return found


def gateway_identify(
    gateways: Mapping[str, ResolvedGateway],
) -> Callable[[str, str], tuple[str, tuple[str, ...]] | None]:
    """``(gateway, gateway model id) -> (canonical id, variants)`` by each gateway's own rules."""
    adapters: dict[str, GatewayAdapter] = {}

    def identify(gateway: str, raw_id: str) -> tuple[str, tuple[str, ...]] | None:
        adapter = adapters.get(gateway)
        if adapter is None:
            resolved = gateways.get(gateway)
            if resolved is None:
                return None
            dialect = resolved.config.options.get("id_dialect")
            adapter = build_adapter(
                resolved.spec.adapter,
                gateway,
                id_dialect=dialect if isinstance(dialect, str) else None,
            )
            adapters[gateway] = adapter
        try:
            identity = adapter.identify(raw_id, {})
        except Exception:  # noqa: BLE001 - an id the rules cannot read matches by raw id only
            return None
        return identity.id, identity.variants

    return identify


def parse_catalog(adapter: GatewayAdapter, pages: Sequence[Page]) -> list[Model]:
    """Every entry of a catalog that normalizes; a bad entry is skipped, not the catalog."""
    models: list[Model] = []
    for key, raw in adapter.entries(pages):
        with contextlib.suppress(PayloadError):
            models.append(adapter.normalize(key, raw))
    return models


@dataclass(slots=True)
class _Source:
    source: ReferenceSource
    table: ReferenceTable | None = None
    body_hash: str | None = None
    last_attempt: datetime | None = None
    last_error: str | None = None
    pending: set[str] = field(default_factory=set)


class ReferencePrices:
    """The reference tables of this process (see the module docstring)."""

    def __init__(
        self,
        *,
        store: Store,
        fetcher: PageFetcher,
        sources: Sequence[ReferenceSource],
        gateways: Mapping[str, ResolvedGateway],
        clock: Clock,
        upstream: str | None = None,
        offload: Offload = INLINE,
        recheck_s: float = 5.0,
    ) -> None:
        self._store = store
        self._fetcher = fetcher
        self._sources = {source.name: _Source(source) for source in sources}
        self._gateways = gateways
        self._identify = gateway_identify(gateways)
        self._clock = clock
        self._upstream = upstream
        self._offload = offload  # decoding and parsing a 4 MB catalog stay off the event loop
        self._stamps: dict[str, str] = {}
        self._recheck_s = recheck_s
        self._checked_at: float | None = None
        self._streaks = FailureStreaks(log)

    @property
    def enabled(self) -> bool:
        return bool(self._sources)

    def tables(self) -> tuple[ReferenceTable, ...]:
        """The loaded tables, in enrichment order."""
        return tuple(s.table for s in self._sources.values() if s.table is not None)

    async def current(self) -> tuple[ReferenceTable, ...]:
        """The tables to enrich a run with, reloaded when another process stored newer ones
        (the store's stamps are read at most every ``recheck_s``: a ``sync all`` reads once)."""
        if not self._sources:
            return ()
        now = self._clock.monotonic()
        if self._checked_at is not None and now - self._checked_at < self._recheck_s:
            return self.tables()
        self._checked_at = now
        stamps = await self._store.reference_stamps()
        mine = {name: stamps[name] for name in self._sources if name in stamps}
        if mine != self._stamps:
            await self.load()
        return self.tables()

    async def load(self) -> None:
        """Load the stored tables of the configured sources."""
        for stored in await self._store.load_references():
            entry = self._sources.get(stored.name)
            if entry is None:
                continue
            try:
                entry.table = ReferenceTable.from_json(stored.prices)
            except (KeyError, TypeError, ValueError):
                log.warning("reference.unreadable", source=stored.name)
                continue
            entry.body_hash = stored.body_hash
            self._stamps[stored.name] = stored.body_hash

    def due(self, now: datetime) -> list[str]:
        """The sources whose interval has passed since their last attempt (or never tried)."""
        return [
            name
            for name, entry in self._sources.items()
            if entry.last_attempt is None
            or (now - entry.last_attempt).total_seconds() >= entry.source.interval_s
        ]

    async def refresh(self, name: str) -> set[str]:
        """Fetch one catalog; the gateways whose reference prices it changed (and any still
        pending from before). A failure keeps the last good table and changes nothing."""
        entry = self._sources[name]
        source = entry.source
        now = self._clock.now()
        entry.last_attempt = now
        adapter = build_adapter(source.kind, source.name)
        config = GatewayConfig(name=source.name, base_url=source.url)
        try:
            listing = await fetch_listing(
                self._fetcher,
                adapter,
                config,
                upstream=self._upstream,
                previous_hash=entry.body_hash,
                validators=None,
                loads=self._offload.loads,
            )
            if listing.identical or listing.not_modified:
                entry.last_error = None
                self._streaks.recovered(f"reference:{name}", "reference.recovered", source=name)
                return set(entry.pending)
            table = await self._offload.call(self._table, adapter, source, now, listing.pages)
            await self._store.save_reference(
                StoredReference(name, now, listing.body_hash, table.to_json())
            )
        except (SyncError, StoreError) as exc:
            entry.last_error = str(exc)
            self._streaks.failed(
                f"reference:{name}", "reference.failing", source=name, error=str(exc)
            )
            return set(entry.pending)
        self._streaks.recovered(f"reference:{name}", "reference.recovered", source=name)
        entry.last_error = None
        changed = changed_gateways(entry.table, table)
        entry.table = table
        entry.body_hash = listing.body_hash
        self._stamps[name] = listing.body_hash
        entry.pending |= {g for g in changed if g in self._gateways}
        log.info("reference.fetched", source=name, gateways=len(table.gateways()),
                 prices=len(table.by_id), changed=sorted(entry.pending))  # fmt: skip
        return set(entry.pending)

    def _table(
        self, adapter: GatewayAdapter, source: ReferenceSource, now: datetime, pages: list[Page]
    ) -> ReferenceTable:
        """The table of a fetched catalog (CPU: parsing thousands of entries)."""
        models = parse_catalog(adapter, pages)
        if not models:
            raise PayloadError(f"{source.name}: no model could be read")
        return build_table(source.label, source.kind, now, models, self._identify)

    async def reprice(self, runner: SyncRunner, gateways: set[str]) -> list[RunSummary]:
        """Run each enabled gateway whose reference prices changed, with trigger ``reference``,
        reading every entry again; a gateway whose run succeeded is no longer pending."""
        names = [
            name for name in self._gateways if name in gateways and self._gateways[name].enabled
        ]
        if not names:
            return []
        summaries = await runner.run_many(names, trigger=ChangeSource.REFERENCE, full=True)
        done = {summary.gateway for summary in summaries if summary.ok}
        for entry in self._sources.values():
            entry.pending -= done
            entry.pending &= set(names)  # disabled gateways never run
        return summaries

    async def refresh_due(self, runner: SyncRunner) -> list[RunSummary]:
        """Refresh every due source, then re-price the gateways that changed."""
        gateways: set[str] = set()
        for name in self.due(self._clock.now()):
            gateways |= await self.refresh(name)
        return await self.reprice(runner, gateways)

    async def run_forever(self, runner: SyncRunner, *, tick_s: float = 30.0) -> None:
        """Refresh due sources every ``tick_s`` (serve's background task)."""
        if not self._sources:
            return
        with contextlib.suppress(StoreError):
            await self.load()
        while True:
            try:
                await self.refresh_due(runner)
            except Exception:  # a bug here must never stop serving; logged with its traceback
                log.exception("reference.refresh_failed")
            await asyncio.sleep(tick_s)

    def status(self) -> list[dict[str, Any]]:
        """Each source: name, url, interval, when its table was fetched, last error."""
        return [
            {
                "name": name,
                "url": entry.source.url,
                "interval_s": entry.source.interval_s,
                "fetched_at": entry.table.fetched_at.isoformat() if entry.table else None,
                "source": entry.table.label if entry.table else None,
                "last_error": entry.last_error,
                "pending": sorted(entry.pending),
            }
            for name, entry in self._sources.items()
        ]
