"""One sync run of one gateway: the I/O sequence around the pure core.

lease -> fetch every page -> (304 or identical bytes: done) -> split into entries -> guard the
snapshot -> normalize (memoized) -> diff against the previous catalog -> plan (hysteresis,
anomalies) -> store it in one transaction -> tell the listeners.

Any :class:`~modelsync.errors.SyncError` on the way makes a *failed* run (``rejected`` when the
guard refused the snapshot): recorded with its error, the previous catalog left as it was. The
runner keeps, per gateway, the catalog it last applied and each model's raw entry bytes: when the
store's version still matches, the next run diffs against memory and re-normalizes only entries
whose bytes changed. ``normalize`` is pure, so this is plain memoization.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
import structlog

from modelsync.clock import Clock
from modelsync.config import ResolvedGateway
from modelsync.diff import diff_catalogs, stale_extras
from modelsync.domain import (
    CatalogEntry,
    ChangeKind,
    ChangeSource,
    Model,
    Presence,
    RunOutcome,
    SyncPlan,
)
from modelsync.errors import ConfigError, LeaseLost, SnapshotRejected, SyncError
from modelsync.fetch import Validators
from modelsync.gateways.base import GatewayAdapter
from modelsync.gateways.registry import build_adapter
from modelsync.guard import GuardPolicy, check_snapshot, plan_sync
from modelsync.identity import NO_OVERRIDES, IdentityOverrides
from modelsync.store.base import GatewayState, LeaseGrant, RunRecord, RunResult, Store
from modelsync.sync.identities import IdentityUpkeep
from modelsync.sync.listing import Listing, PageFetcher, fetch_listing

log = structlog.get_logger("modelsync.sync")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSummary:
    """The outcome of one run, as ``modelsync sync --json`` prints it."""

    gateway: str
    outcome: RunOutcome
    added: int = 0
    updated: int = 0
    removed: int = 0
    restored: int = 0
    missing: int = 0
    total_models: int = 0
    duration_ms: int = 0
    error: str | None = None
    catalog_version: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome not in (RunOutcome.FAILED, RunOutcome.REJECTED)

    def to_json(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway,
            "outcome": self.outcome.value,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "restored": self.restored,
            "missing": self.missing,
            "total_models": self.total_models,
            "duration_ms": self.duration_ms,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class AppliedRun:
    """Handed to every listener after a run that changed the catalog."""

    gateway: str
    plan: SyncPlan
    result: RunResult
    source: ChangeSource


Listener = Callable[[AppliedRun], Awaitable[None]]

NextRun = Callable[[GatewayState, RunRecord, float | None], datetime]
"""Given the state before a run, its record and the gateway's Retry-After (seconds, if it said
one), when the gateway runs next. The scheduler supplies it; the time is stored with the run."""


@dataclass(slots=True)
class _Memo:
    """The catalog this process last applied for a gateway, valid while ``version`` matches."""

    version: int
    entries: Mapping[str, CatalogEntry]
    raw: Mapping[str, tuple[bytes, Model]]


@dataclass(frozen=True, slots=True)
class _Snapshot:
    models: dict[str, Model]
    raw: dict[str, tuple[bytes, Model]]


@dataclass(frozen=True, slots=True)
class _Attempt:
    """What one attempt produced: the run record, and for a decoded snapshot, the plan."""

    record: RunRecord
    plan: SyncPlan | None = None
    previous: Mapping[str, CatalogEntry] | None = None
    snapshot: _Snapshot | None = None
    retry_after_s: float | None = None


def next_entries(
    previous: Mapping[str, CatalogEntry], plan: SyncPlan | None
) -> Mapping[str, CatalogEntry]:
    """PURE: the stored catalog after ``plan`` is applied to ``previous``."""
    if plan is None:
        return previous
    entries = dict(previous)
    for model in plan.upserts:
        entries[model.gateway_model_id] = CatalogEntry(model)
    for mark in plan.missing:
        model = entries[mark.gateway_model_id].model
        entries[mark.gateway_model_id] = CatalogEntry(model, Presence.MISSING, mark.miss_count)
    for model_id in plan.removed:
        entry = entries[model_id]
        entries[model_id] = CatalogEntry(entry.model, Presence.REMOVED, entry.miss_count + 1)
    return entries


class SyncRunner:
    """Runs gateways; one instance per process, shared by the scheduler, the API and the CLI."""

    def __init__(
        self,
        *,
        store: Store,
        fetcher: PageFetcher,
        gateways: Mapping[str, ResolvedGateway],
        guard: GuardPolicy,
        clock: Clock,
        owner: str,
        upstream: str | None = None,
        lease_ttl_s: float = 300.0,
        lease_wait_s: float = 60.0,
        identity: IdentityOverrides = NO_OVERRIDES,
    ) -> None:
        self._store = store
        self._fetcher = fetcher
        self._gateways = gateways
        self._guard = guard
        self._clock = clock
        self._owner = owner
        self._upstream = upstream
        self._lease_ttl_s = lease_ttl_s
        self._lease_wait_s = lease_wait_s
        self.identity = IdentityUpkeep(identity, self._adapter_named)
        self._adapters: dict[str, GatewayAdapter] = {}
        self._memos: dict[str, _Memo] = {}
        self._listeners: list[Listener] = []

    @property
    def gateways(self) -> Mapping[str, ResolvedGateway]:
        return self._gateways

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` after every run that changed the catalog (its errors are logged)."""
        self._listeners.append(listener)

    def adapter(self, gateway: ResolvedGateway) -> GatewayAdapter:
        adapter = self._adapters.get(gateway.name)
        if adapter is None:
            dialect = gateway.config.options.get("id_dialect")
            adapter = build_adapter(
                gateway.spec.adapter,
                gateway.name,
                id_dialect=dialect if isinstance(dialect, str) else None,
            )
            self._adapters[gateway.name] = adapter
        return adapter

    def _adapter_named(self, name: str) -> GatewayAdapter | None:
        gateway = self._gateways.get(name)
        return None if gateway is None else self.adapter(gateway)

    async def run_many(
        self,
        names: Sequence[str],
        *,
        trigger: ChangeSource = ChangeSource.MANUAL,
        full: bool = False,
        concurrency: int = 8,
        on_done: Callable[[RunSummary], None] | None = None,
    ) -> list[RunSummary]:
        """Run these gateways concurrently (at most ``concurrency`` at a time), in input order."""
        limit = asyncio.Semaphore(concurrency)

        async def one(name: str) -> RunSummary:
            async with limit:
                summary = await self.run(name, trigger=trigger, full=full)
            if on_done is not None:
                on_done(summary)
            return summary

        return list(await asyncio.gather(*(one(name) for name in names)))

    async def run(
        self,
        name: str,
        *,
        trigger: ChangeSource = ChangeSource.MANUAL,
        full: bool = False,
        grant: LeaseGrant | None = None,
        next_run: NextRun | None = None,
    ) -> RunSummary:
        """Sync one gateway now.

        ``grant`` is a lease the caller already holds (the scheduler claims due gateways);
        ``next_run`` computes the next run time, stored in the run's transaction.
        """
        gateway = self._gateways.get(name)
        if gateway is None:
            known = ", ".join(self._gateways)
            raise ConfigError(f"unknown gateway {name!r}; known gateways: {known}")
        if not gateway.enabled:
            return RunSummary(
                gateway=name, outcome=RunOutcome.DISABLED, error=gateway.disabled_reason
            )
        began = self._clock.monotonic()
        if grant is None:
            grant = await self._acquire(name)
            if grant is None:
                return RunSummary(
                    gateway=name,
                    outcome=RunOutcome.FAILED,
                    error=f"another process holds the lease of {name} (it is running it now)",
                )
        started = self._clock.now()
        try:
            attempt = await self._attempt(gateway, grant.state, trigger=trigger, full=full)
        except SyncError as exc:
            rejected = isinstance(exc, SnapshotRejected)
            outcome = RunOutcome.REJECTED if rejected else RunOutcome.FAILED
            attempt = _Attempt(
                self._record(name, trigger, outcome, started, error=str(exc)),
                retry_after_s=getattr(exc, "retry_after", None),
            )
        except Exception as exc:  # a bug in one gateway must not stop the others: record it
            log.exception("sync.internal_error", gateway=name)
            error = f"internal error: {exc!r}"
            attempt = _Attempt(self._record(name, trigger, RunOutcome.FAILED, started, error=error))
        if next_run is not None:
            when = next_run(grant.state, attempt.record, attempt.retry_after_s)
            attempt = replace(attempt, record=replace(attempt.record, next_run_at=when))
        return await self._finish(gateway, grant, attempt, began)

    # -- steps ----------------------------------------------------------------------------

    async def _acquire(self, name: str) -> LeaseGrant | None:
        deadline = self._clock.monotonic() + self._lease_wait_s
        while True:
            grant = await self._store.acquire_lease(
                name, self._owner, now=self._clock.now(), ttl_s=self._lease_ttl_s
            )
            if grant is not None or self._clock.monotonic() >= deadline:
                return grant
            await asyncio.sleep(0.25)

    async def _attempt(
        self, gateway: ResolvedGateway, state: GatewayState, *, trigger: ChangeSource, full: bool
    ) -> _Attempt:
        name = gateway.name
        started = self._clock.now()
        memo = self._memos.get(name)
        if memo is not None and memo.version != state.version:
            del self._memos[name]
            memo = None
        listing = await fetch_listing(
            self._fetcher,
            self.adapter(gateway),
            gateway.config,
            upstream=self._upstream,
            previous_hash=None if full else state.body_hash,
            validators=None if full else Validators(state.etag, state.last_modified),
        )
        if listing.not_modified or listing.identical:
            outcome = RunOutcome.NOT_MODIFIED if listing.not_modified else RunOutcome.UNCHANGED
            return _Attempt(
                self._record(
                    name, trigger, outcome, started,
                    listing=listing, full=full, total_models=state.model_count,
                )
            )  # fmt: skip
        snapshot = self._normalize(gateway, listing, memo, last_good_count=state.model_count)
        if memo is not None:
            previous = memo.entries
        else:
            previous = (await self._store.load_catalog(name)).entries
        plan = plan_sync(
            name,
            diff_catalogs(previous, snapshot.models),
            total_models=len(snapshot.models),
            policy=self._guard,
        )
        outcome = RunOutcome.UNCHANGED if plan.is_empty else RunOutcome.CHANGED
        if full:  # the daily full resync also rewrites the never-compared extra fields
            refreshed = stale_extras(previous, snapshot.models)
            plan = replace(plan, upserts=(*plan.upserts, *refreshed)) if refreshed else plan
        record = self._record(
            name, trigger, outcome, started,
            listing=listing, full=full, total_models=plan.total_models, plan=plan,
        )  # fmt: skip
        return _Attempt(record, None if plan.is_empty else plan, previous, snapshot)

    def _normalize(
        self,
        gateway: ResolvedGateway,
        listing: Listing,
        memo: _Memo | None,
        *,
        last_good_count: int,
    ) -> _Snapshot:
        adapter = self.adapter(gateway)
        entries = list(adapter.entries(listing.pages))
        check_snapshot(
            (model_id for model_id, _ in entries),
            last_good_count=last_good_count,
            policy=self._guard,
        )
        known = memo.raw if memo is not None else {}
        models: dict[str, Model] = {}
        raw: dict[str, tuple[bytes, Model]] = {}
        dumps = orjson.dumps
        overridden = self.identity.overridden if self.identity.overrides else None
        for model_id, entry in entries:
            key = dumps(entry)
            cached = known.get(model_id)
            if cached is not None and cached[0] == key:
                model = cached[1]
            else:
                model = adapter.normalize(model_id, entry)
                if overridden is not None:
                    model = overridden(model)
            models[model_id] = model
            raw[model_id] = (key, model)
        return _Snapshot(models, raw)

    async def _finish(
        self, gateway: ResolvedGateway, grant: LeaseGrant, attempt: _Attempt, began: float
    ) -> RunSummary:
        name = gateway.name
        record = attempt.record
        try:
            result = await self._store.finish_run(
                record, attempt.plan, lease=grant.lease, now=self._clock.now()
            )
        except LeaseLost as exc:
            self._memos.pop(name, None)
            log.warning("sync.lease_lost", gateway=name, error=str(exc))
            return _summary(record, began, self._clock, error=f"lease lost: {exc}")
        if attempt.snapshot is not None and attempt.previous is not None:
            self._memos[name] = _Memo(
                result.gateway_version,
                next_entries(attempt.previous, attempt.plan),
                attempt.snapshot.raw,
            )
        self._log_run(grant.state, record)
        if attempt.plan is not None:
            await self._notify(AppliedRun(name, attempt.plan, result, record.trigger))
        return _summary(record, began, self._clock, catalog_version=result.catalog_version)

    async def _notify(self, applied: AppliedRun) -> None:
        for listener in self._listeners:
            try:
                await listener(applied)
            except Exception:  # a listener's failure never undoes a stored run
                log.exception("sync.listener_failed", gateway=applied.gateway)

    def _log_run(self, before: GatewayState, record: RunRecord) -> None:
        fields = {
            "gateway": record.gateway,
            "outcome": record.outcome.value,
            "added": record.added,
            "updated": record.updated,
            "removed": record.removed,
            "total_models": record.total_models,
            "duration_ms": record.duration_ms,
            "trigger": record.trigger.value,
        }
        if record.succeeded:
            if before.consecutive_failures:
                log.info("sync.recovered", failures=before.consecutive_failures, **fields)
            else:
                log.info("sync.run", **fields)
        elif before.consecutive_failures == 0:
            log.warning("sync.failing", error=record.error, **fields)
        else:
            log.debug("sync.still_failing", error=record.error, **fields)

    def _record(
        self,
        name: str,
        trigger: ChangeSource,
        outcome: RunOutcome,
        started: datetime,
        *,
        listing: Listing | None = None,
        full: bool = False,
        total_models: int = 0,
        plan: SyncPlan | None = None,
        error: str | None = None,
    ) -> RunRecord:
        record = RunRecord(
            gateway=name,
            trigger=trigger,
            outcome=outcome,
            started_at=started,
            finished_at=self._clock.now(),
            total_models=total_models,
            http_status=listing.status if listing else None,
            bytes=listing.bytes if listing else 0,
            error=error,
            etag=listing.validators.etag if listing else None,
            last_modified=listing.validators.last_modified if listing else None,
            body_hash=listing.body_hash if listing else None,
            full_sync=full,
        )
        if plan is None:
            return record
        if plan.missing:
            # Models are waiting for their next miss: an identical next answer must still be
            # diffed to count it, so keep no validators or body hash for it to short-circuit on.
            record = replace(record, etag=None, last_modified=None, body_hash=None)
        return replace(
            record,
            added=plan.count(ChangeKind.ADDED),
            updated=plan.count(ChangeKind.UPDATED),
            removed=plan.count(ChangeKind.REMOVED),
            restored=plan.count(ChangeKind.RESTORED),
            missing=len(plan.missing),
        )


def _summary(
    record: RunRecord,
    began: float,
    clock: Clock,
    *,
    error: str | None = None,
    catalog_version: int | None = None,
) -> RunSummary:
    failed = error is not None
    return RunSummary(
        gateway=record.gateway,
        outcome=RunOutcome.FAILED if failed else record.outcome,
        added=0 if failed else record.added,
        updated=0 if failed else record.updated,
        removed=0 if failed else record.removed,
        restored=0 if failed else record.restored,
        missing=0 if failed else record.missing,
        total_models=record.total_models,
        duration_ms=round((clock.monotonic() - began) * 1000),
        error=error or record.error,
        catalog_version=catalog_version,
    )
