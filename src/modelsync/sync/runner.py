"""One sync run of one gateway: the I/O sequence around the pure core.

lease -> fetch every page -> (304 or identical bytes: done) -> read the snapshot (check every
entry, normalize the new and changed) -> diff against the previous catalog -> plan (renames,
hysteresis, anomalies) -> store it -> tell the listeners.

* **Never stuck.** A run holds a short lease (tens of seconds, the database's clock) that a
  heartbeat renews while it lasts (:class:`~modelsync.sync.lease.LeaseKeeper`), and ends within
  its total deadline, fetch retries and ``Retry-After`` waits included. Whatever happens, the
  lease is given back: recorded with the run, released on cancellation, or lapsing within one
  lease time when the database is away (and this process may take it back at once). This process
  never runs one gateway twice at once: every lease it takes goes through one gate, which skips
  the gateways it is running.
* **Never wrong.** Any :class:`~modelsync.errors.SyncError` on the way makes a *failed* run
  (``rejected`` when the guard refused the snapshot, or an entry was bad): recorded with its
  error, the previous catalog left as it was. A run that lost its lease is recorded as failed
  too, with its back-off (unless another process holds the lease: then that one records).
* **Daily full resync**, whatever triggered the run: once ``full_resync_s`` has passed since the
  last one, a run ignores validators and body hash, normalizes every entry and rewrites models
  whose never-compared ``extra`` moved on.

The runner keeps, per gateway, the catalog it last applied, lean (a
:class:`~modelsync.domain.CatalogEntry` per model: compared values, hashes, presence): when the
store's version still matches, the next run diffs against memory and normalizes only entries
whose raw bytes changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

import structlog

from modelsync.bounds import canonical_id_problem
from modelsync.clock import Clock
from modelsync.config import ResolvedGateway
from modelsync.diff import diff_catalogs, stale_extras
from modelsync.domain import (
    CatalogEntry,
    ChangeKind,
    ChangeSource,
    Model,
    ModelChange,
    Presence,
    RunOutcome,
    SyncPlan,
)
from modelsync.errors import ConfigError, LeaseLost, SnapshotRejected, StoreError, SyncError
from modelsync.fetch import Validators
from modelsync.gateways.base import GatewayAdapter, releasing_entries
from modelsync.gateways.registry import build_adapter
from modelsync.guard import GuardPolicy, plan_sync
from modelsync.identity import NO_OVERRIDES, IdentityOverrides
from modelsync.observability import FailureStreaks
from modelsync.observability.metrics import lease_lost, lease_taken
from modelsync.observability.runs import RunObserver, stage, stages_done
from modelsync.reference.table import ReferenceTable, enrich, price_source_changes
from modelsync.store.base import GatewayState, LeaseGrant, RunRecord, RunResult, Store
from modelsync.sync.health import quarantine_json
from modelsync.sync.identities import IdentityUpkeep
from modelsync.sync.lease import LeaseKeeper
from modelsync.sync.listing import Listing, PageFetcher, fetch_listing
from modelsync.sync.offload import INLINE, Offload, collector_paused
from modelsync.sync.prices import PricedSeparately, attach_prices
from modelsync.sync.schedule import full_resync_due
from modelsync.sync.snapshot import Snapshot, read_snapshot

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
    quarantined: Mapping[str, str] = field(default_factory=dict)
    """Entries set aside by this run (id or place -> reason); their models kept as they were."""
    filtered: Mapping[str, int] = field(default_factory=dict)
    """Entries the adapter left out by design, counted by reason."""
    warnings: tuple[str, ...] = ()
    """What went wrong without failing the run (fal's pricing API down: prices kept)."""

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
            "quarantined": quarantine_json(self.quarantined),
            "filtered": dict(self.filtered),
            "warnings": list(self.warnings),
        }


def quarantine_changes(
    adapter: GatewayAdapter,
    snapshot: Snapshot,
    previous: Mapping[str, CatalogEntry],
    before: Mapping[str, str] | None,
) -> tuple[ModelChange, ...]:
    """A ``quarantined`` change per entry newly set aside (or set aside for another reason than
    last time): the change feed shows each once, not on every run it stays bad."""
    before = before or {}
    found: list[ModelChange] = []
    for key, reason in snapshot.quarantined.items():
        if before.get(key) == reason:
            continue
        entry = previous.get(key)
        found.append(
            ModelChange(
                kind=ChangeKind.QUARANTINED,
                gateway=adapter.gateway,
                gateway_model_id=key,
                id=entry.id if entry is not None else guessed_id(adapter, key),
                fields={"quarantine": (before.get(key), reason)},
            )
        )
    return tuple(found)


def guessed_id(adapter: GatewayAdapter, key: str) -> str:
    """The canonical id the identity rules give a quarantined new entry's id, when it is safe;
    else ``<gateway>/unidentified`` (an entry without an id, or one that is not an id)."""
    with contextlib.suppress(Exception):
        guessed = adapter.resolve(key).id
        if canonical_id_problem(guessed) is None:
            return guessed
    fallback = f"{adapter.gateway}/unidentified"
    return fallback if canonical_id_problem(fallback) is None else "unknown/unidentified"


@dataclass(frozen=True, slots=True)
class AppliedRun:
    """Handed to every listener after a run that changed the catalog."""

    gateway: str
    plan: SyncPlan
    result: RunResult
    source: ChangeSource
    presence_changed: tuple[str, ...] = ()
    """Canonical ids whose served status this run changed without a recorded change (marked
    ``missing``, or back from it unchanged): the cache drops them too."""


Listener = Callable[[AppliedRun], Awaitable[None]]


class ReferenceTables(Protocol):
    """Where a run gets the reference price tables (:class:`~modelsync.reference.service.
    ReferencePrices`)."""

    async def current(self) -> tuple[ReferenceTable, ...]:
        """The tables to enrich with (StoreError when the store cannot say)."""
        ...

    def tables(self) -> tuple[ReferenceTable, ...]:
        """The tables loaded last."""
        ...


NextRun = Callable[[GatewayState, RunRecord, float | None], datetime]
"""Given the state before a run, its record and the gateway's Retry-After (seconds, if it said
one), when the gateway runs next. The scheduler supplies it; the time is stored with the run."""


@dataclass(slots=True)
class _Memo:
    """The catalog this process last applied for a gateway, valid while ``version`` matches."""

    version: int
    entries: dict[str, CatalogEntry]


@dataclass(frozen=True, slots=True)
class _Attempt:
    """What one attempt produced: the run record, and for a decoded snapshot, the plan."""

    record: RunRecord
    plan: SyncPlan | None = None
    previous: dict[str, CatalogEntry] | None = None
    snapshot: Snapshot | None = None
    retry_after_s: float | None = None
    error: BaseException | None = None
    """The exception of an internal error (its traceback is logged once per failure streak)."""
    warnings: tuple[str, ...] = ()


def _presence_changed(
    previous: dict[str, CatalogEntry] | None, plan: SyncPlan | None
) -> tuple[str, ...]:
    """Canonical ids whose served status ``plan`` changes without recording a change: present
    models it marks missing, and missing models back without a changed field."""
    if previous is None or plan is None:
        return ()
    ids: list[str] = []
    for mark in plan.missing:
        entry = previous.get(mark.gateway_model_id)
        if entry is not None and entry.presence is not Presence.MISSING:
            ids.append(entry.id)
    for model in plan.upserts:
        entry = previous.get(model.gateway_model_id)
        if entry is not None and entry.presence is Presence.MISSING:
            ids.append(model.id)
    return tuple(ids)


def remember(
    previous: dict[str, CatalogEntry], plan: SyncPlan | None, snapshot: Snapshot
) -> dict[str, CatalogEntry]:
    """The stored catalog after ``plan`` is applied to ``previous``, with the snapshot's raw
    hashes: updated in place (``previous`` is the runner's own memo, or a freshly loaded one)."""
    hashes = snapshot.raw_hashes
    if plan is not None:
        for old, _ in plan.renamed:
            del previous[old]
        for model in plan.upserts:
            previous[model.gateway_model_id] = CatalogEntry.of(model)
        for mark in plan.missing:
            entry = previous[mark.gateway_model_id]
            previous[mark.gateway_model_id] = replace(
                entry, presence=Presence.MISSING, miss_count=mark.miss_count
            )
        for model_id in plan.removed:
            entry = previous[model_id]
            previous[model_id] = replace(
                entry, presence=Presence.REMOVED, miss_count=entry.miss_count + 1
            )
    for model_id, hashed in hashes.items():  # what the next run compares raw bytes against
        entry = previous[model_id]
        if entry.raw_hash != hashed:
            previous[model_id] = replace(entry, raw_hash=hashed)
    return previous


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
        lease_ttl_s: float = 30.0,
        lease_wait_s: float | None = None,
        run_deadline_s: float = 300.0,
        full_resync_s: float = 24 * 60 * 60,
        identity: IdentityOverrides = NO_OVERRIDES,
        offload: Offload = INLINE,
        observer: RunObserver | None = None,
    ) -> None:
        self.observer = observer or RunObserver()
        self._store = store
        self._fetcher = fetcher
        self._gateways = gateways
        self._guard = guard
        self._clock = clock
        self._owner = owner
        self._upstream = upstream
        self._lease_ttl_s = lease_ttl_s
        self._lease_wait_s = lease_ttl_s + 5 if lease_wait_s is None else lease_wait_s
        self._run_deadline_s = run_deadline_s
        self._full_resync_s = full_resync_s
        self._offload = offload  # where decode, normalize, diff, plan and remember run
        self.identity = IdentityUpkeep(identity, self._adapter_named)
        self._adapters: dict[str, GatewayAdapter] = {}
        self._memos: dict[str, _Memo] = {}
        self._listeners: list[Listener] = []
        self._active: set[str] = set()
        self._gate = asyncio.Lock()
        self._streaks = FailureStreaks(log)
        self.references: ReferenceTables | None = None
        """Reference price catalogs filling the prices of offers whose gateway gives none."""

    @property
    def gateways(self) -> Mapping[str, ResolvedGateway]:
        return self._gateways

    @property
    def fetcher(self) -> PageFetcher:
        """The HTTP layer the runs fetch with (the reference catalogs fetch with it too)."""
        return self._fetcher

    def active(self) -> set[str]:
        """The gateways this process is running (or has claimed to run) right now."""
        return set(self._active)

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

    # -- leases ---------------------------------------------------------------------------

    async def claim_due(
        self, *, now: datetime, limit: int, exclude: Sequence[str] = ()
    ) -> list[LeaseGrant]:
        """Lease up to ``limit`` due gateways this process can run and is not running; each
        grant must be passed to :meth:`run` (or given back with :meth:`release`)."""
        async with self._gate:
            skip = self._active.union(exclude)
            candidates = [
                name for name, gateway in self._gateways.items()
                if gateway.enabled and name not in skip
            ]  # fmt: skip
            grants = await self._store.claim_due(
                self._owner, now=now, ttl_s=self._lease_ttl_s, limit=limit, candidates=candidates
            )
            self._active.update(grant.lease.gateway for grant in grants)
        for grant in grants:
            lease_taken(takeover=grant.state.lease_taken_from is not None)
        return grants

    async def release(self, grant: LeaseGrant) -> None:
        """Give back a claimed lease without running it (this process forgets it at once; the
        database's lease is released, or lapses if the database is away)."""
        self._active.discard(grant.lease.gateway)
        await self._store.release_lease(grant.lease)

    async def _acquire(self, name: str) -> LeaseGrant | None:
        """The gateway's lease, waiting up to ``lease_wait_s`` while it is held (here or by
        another process)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lease_wait_s
        while True:
            async with self._gate:
                if name not in self._active:
                    grant = await self._store.acquire_lease(
                        name, self._owner, ttl_s=self._lease_ttl_s
                    )
                    if grant is not None:
                        self._active.add(name)
                        lease_taken(takeover=grant.state.lease_taken_from is not None)
                        return grant
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(0.25)

    async def _held_elsewhere(self, name: str) -> str:
        if name in self._active:
            return f"{name} is being synced by this process; try again when that run ends"
        states = await self._store.gateway_states([name])
        holder = states[0].lease_owner if states else None
        until = states[0].lease_expires_at if states else None
        if holder is None or until is None:
            return f"{name} is being synced by another process"
        return (
            f"{name} is being synced by another process ({holder}); its lease runs until "
            f"{until:%H:%M:%S} UTC (database time), renewed while that run lasts"
        )

    # -- runs -----------------------------------------------------------------------------

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

        ``grant`` is a lease the caller claimed through :meth:`claim_due` (the scheduler);
        ``next_run`` computes the next run time, stored in the run's transaction. Raises
        StoreError only when the database fails and the failure could not be recorded either.
        """
        gateway = self._gateways.get(name)
        if gateway is None:
            if grant is not None:
                await self.release(grant)
            known = ", ".join(self._gateways)
            raise ConfigError(f"unknown gateway {name!r}; known gateways: {known}")
        if not gateway.enabled:
            if grant is not None:
                await self.release(grant)
            return RunSummary(
                gateway=name, outcome=RunOutcome.DISABLED, error=gateway.disabled_reason
            )
        began = self._clock.monotonic()
        if grant is None:
            grant = await self._acquire(name)
            if grant is None:
                error = await self._held_elsewhere(name)
                return RunSummary(gateway=name, outcome=RunOutcome.FAILED, error=error)
        else:
            self._active.add(name)
        try:
            with self.observer.run(name, trigger.value, interval_s=gateway.interval_s):
                return await self._run_leased(
                    gateway, grant, trigger=trigger, full=full, next_run=next_run, began=began
                )
        finally:
            self._active.discard(name)

    async def _run_leased(
        self,
        gateway: ResolvedGateway,
        grant: LeaseGrant,
        *,
        trigger: ChangeSource,
        full: bool,
        next_run: NextRun | None,
        began: float,
    ) -> RunSummary:
        state = grant.state
        full = full or full_resync_due(
            state.last_full_sync_at, now=self._clock.now(), every_s=self._full_resync_s
        )
        keeper = LeaseKeeper(
            self._store, grant.lease, ttl_s=self._lease_ttl_s, deadline_s=self._run_deadline_s
        )
        done = False
        try:
            async with keeper:
                attempt = await self._bounded(gateway, state, keeper, trigger=trigger, full=full)
                attempt = self._scheduled(attempt, state, next_run)
                # the commit builds a change record for every change and its listeners fan
                # them out: no full collection meanwhile (a 50,000-model first sync's took
                # /healthz's p99 to 46-77 ms, 6.8 ms without)
                with collector_paused() if attempt.plan is not None else contextlib.nullcontext():
                    summary = await self._finish(
                        gateway, keeper, attempt, state=state, next_run=next_run, began=began
                    )
                done = True
                return summary
        finally:
            if not done:  # cancelled, or the database failed: give the lease back if we can
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._store.release_lease(keeper.lease))

    async def _bounded(
        self,
        gateway: ResolvedGateway,
        state: GatewayState,
        keeper: LeaseKeeper,
        *,
        trigger: ChangeSource,
        full: bool,
    ) -> _Attempt:
        """One attempt within the run's bounds; every way it can fail becomes a failed record."""
        name = gateway.name
        started = self._clock.now()
        try:
            async with keeper.bounded():
                return await self._attempt(
                    gateway, state, trigger=trigger, full=full, budget=keeper.remaining
                )
        except SyncError as exc:
            rejected = isinstance(exc, SnapshotRejected)
            outcome = RunOutcome.REJECTED if rejected else RunOutcome.FAILED
            return _Attempt(
                self._record(name, trigger, outcome, started, full=full, error=str(exc)),
                retry_after_s=getattr(exc, "retry_after", None),
            )
        except TimeoutError as exc:
            if keeper.stop_reason is None:  # not the run's bound: a bug below
                return self._internal(name, trigger, started, full, exc)
            error = f"the run {keeper.stop_reason}"
            record = self._record(name, trigger, RunOutcome.FAILED, started, full=full, error=error)
            return _Attempt(record)
        except Exception as exc:  # noqa: BLE001 - a bug in one gateway must not stop the others:
            return self._internal(name, trigger, started, full, exc)  # recorded, logged once

    def _internal(
        self, name: str, trigger: ChangeSource, started: datetime, full: bool, exc: Exception
    ) -> _Attempt:
        error = f"internal error ({type(exc).__name__}); the traceback is in the log"
        record = self._record(name, trigger, RunOutcome.FAILED, started, full=full, error=error)
        return _Attempt(record, error=exc)

    def _scheduled(
        self, attempt: _Attempt, state: GatewayState, next_run: NextRun | None
    ) -> _Attempt:
        if next_run is None:
            return attempt
        when = next_run(state, attempt.record, attempt.retry_after_s)
        return replace(attempt, record=replace(attempt.record, next_run_at=when))

    async def _attempt(
        self,
        gateway: ResolvedGateway,
        state: GatewayState,
        *,
        trigger: ChangeSource,
        full: bool,
        budget: Callable[[], float],
    ) -> _Attempt:
        name = gateway.name
        started = self._clock.now()
        memo = self._memos.get(name)
        if memo is not None and memo.version != state.version:
            del self._memos[name]
            memo = None
        adapter = self.adapter(gateway)
        priced = isinstance(adapter, PricedSeparately)
        fresh = full or priced  # prices from elsewhere: the same listing may have new prices
        with stage("fetch"):
            listing = await fetch_listing(
                self._fetcher,
                adapter,
                gateway.config,
                upstream=self._upstream,
                previous_hash=None if fresh else state.body_hash,
                validators=None if fresh else Validators(state.etag, state.last_modified),
                budget=budget,
                loads=self._offload.loads,
            )
        if listing.not_modified or listing.identical:
            outcome = RunOutcome.NOT_MODIFIED if listing.not_modified else RunOutcome.UNCHANGED
            record = self._record(
                name, trigger, outcome, started,
                listing=listing, full=full, total_models=state.model_count,
            )  # fmt: skip
            # the same bytes as last time: the same entries are set aside as last time
            return _Attempt(replace(record, quarantined=state.quarantined))
        if memo is not None:
            previous = memo.entries
        else:
            previous = dict((await self._store.load_catalog(name)).entries)
        warnings: tuple[str, ...] = ()
        if isinstance(adapter, PricedSeparately):
            with stage("prices"):
                warning = await attach_prices(
                    self._fetcher,
                    adapter,
                    gateway.config,
                    listing.pages,
                    previous,
                    upstream=self._upstream,
                    budget=budget,
                    loads=self._offload.loads,
                )
            warnings = (warning,) if warning else ()
        tables: tuple[ReferenceTable, ...] = ()
        if self.references is not None:
            try:
                tables = await self.references.current()
            except StoreError:  # the tables loaded last: a store hiccup never drops prices
                tables = self.references.tables()
        snapshot, plan, timings = await self._offload.call(
            self._plan, gateway, listing, previous, state=state, full=full, tables=tables
        )
        stages_done(("normalize", "diff"), timings)
        outcome = RunOutcome.UNCHANGED if plan.is_empty else RunOutcome.CHANGED
        record = self._record(
            name, trigger, outcome, started,
            listing=listing, full=full, total_models=plan.total_models, plan=plan,
        )  # fmt: skip
        filtered = dict(adapter.filtered)
        record = replace(record, quarantined=dict(snapshot.quarantined), filtered=filtered)
        plan_or_none = None if plan.is_empty else plan
        return _Attempt(record, plan_or_none, previous, snapshot, warnings=warnings)

    def _plan(
        self,
        gateway: ResolvedGateway,
        listing: Listing,
        previous: dict[str, CatalogEntry],
        *,
        state: GatewayState,
        full: bool,
        tables: tuple[ReferenceTable, ...] = (),
    ) -> tuple[Snapshot, SyncPlan, tuple[float, float, float]]:
        """The CPU-heavy middle of a run (check, normalize, diff, plan): off the loop in serve.
        Also when its stages began and ended (wall clock: the spans of the run's trace)."""
        began = time.time()
        with releasing_entries():  # each entry let go as soon as it is read: not all at the end
            snapshot = read_snapshot(
                self.adapter(gateway),
                listing.pages,
                previous,
                last_good_count=state.model_count,
                policy=self._guard,
                full=full,
                overridden=self._finishing(tables),
            )
        del listing.pages[:]  # the decoded pages are done with: free them before the diff
        normalized = time.time()
        plan = plan_sync(
            gateway.name,
            diff_catalogs(previous, snapshot.models, snapshot.unchanged),
            total_models=snapshot.count,
            policy=self._guard,
        )
        adapter = self.adapter(gateway)
        if tables:
            plan = replace(plan, changes=price_source_changes(plan.changes, snapshot.models))
        held = quarantine_changes(adapter, snapshot, previous, state.quarantined)
        if held:
            plan = replace(plan, changes=(*plan.changes, *held))
        if full:  # the daily full resync also rewrites the never-compared extra fields
            refreshed = stale_extras(previous, snapshot.models)
            plan = replace(plan, upserts=(*plan.upserts, *refreshed)) if refreshed else plan
        return snapshot, plan, (began, normalized, time.time())

    def _finishing(self, tables: tuple[ReferenceTable, ...]) -> Callable[[Model], Model] | None:
        """What each normalized model goes through before it is compared: the operator's
        identity overrides, then the reference prices (offers their gateway gives none)."""
        overridden = self.identity.overridden if self.identity.overrides else None
        if not tables:
            return overridden

        def finished(model: Model) -> Model:
            return enrich(overridden(model) if overridden is not None else model, tables)

        return finished

    async def _finish(
        self,
        gateway: ResolvedGateway,
        keeper: LeaseKeeper,
        attempt: _Attempt,
        *,
        state: GatewayState,
        next_run: NextRun | None,
        began: float,
    ) -> RunSummary:
        name = gateway.name
        record = attempt.record
        try:
            with stage("apply"):
                result = await self._store.finish_run(
                    record, attempt.plan, lease=keeper.lease, now=self._clock.now()
                )
        except LeaseLost:
            self._memos.pop(name, None)
            error = "the run lost its lease before it was recorded (another process took over)"
            lost = record if not record.succeeded else self._failed(record, error, state, next_run)
            await self._record_unleased(lost)
            lease_lost()
            self._log_run(state, lost, None)
            return _summary(lost, began, self._clock, warnings=attempt.warnings)
        except StoreError as exc:
            self._memos.pop(name, None)
            failed = self._failed(record, f"the run could not be recorded: {exc}", state, next_run)
            if not await self._record_unleased(failed):
                raise
            self._log_run(state, failed, None)
            return _summary(failed, began, self._clock, warnings=attempt.warnings)
        presence = _presence_changed(attempt.previous, attempt.plan)
        self._log_run(
            state,
            record,
            attempt.error,
            plan=attempt.plan,
            result=result,
            warnings=attempt.warnings,
        )
        if attempt.plan is not None:  # the listeners first: caches go fresh before the memo
            await self._notify(
                AppliedRun(name, attempt.plan, result, record.trigger, presence_changed=presence)
            )
        if attempt.snapshot is not None and attempt.previous is not None:
            # a run of this gateway started meanwhile sees another version and reads the store
            entries = await self._offload.call(
                remember, attempt.previous, attempt.plan, attempt.snapshot
            )
            self._memos[name] = _Memo(result.gateway_version, entries)
        return _summary(
            record,
            began,
            self._clock,
            catalog_version=result.catalog_version,
            warnings=attempt.warnings,
        )

    def _failed(
        self, record: RunRecord, error: str, state: GatewayState, next_run: NextRun | None
    ) -> RunRecord:
        """``record`` as a failed run (nothing applied), its next run backed off."""
        failed = self._record(
            record.gateway,
            record.trigger,
            RunOutcome.FAILED,
            record.started_at,
            full=record.full_sync,
            error=error,
        )
        if next_run is not None:
            failed = replace(failed, next_run_at=next_run(state, failed, None))
        return failed

    async def _record_unleased(self, record: RunRecord) -> bool:
        """Record a run that holds no lease any more (best effort); whether it was recorded."""
        try:
            await self._store.record_unleased_failure(record, owner=self._owner)
        except StoreError as exc:
            self._streaks.failed(
                f"record:{record.gateway}",
                "sync.record_failed",
                gateway=record.gateway,
                error=str(exc),
            )
            return False
        self._streaks.recovered(f"record:{record.gateway}", "sync.record_recovered")
        return True

    async def _notify(self, applied: AppliedRun) -> None:
        for listener in self._listeners:
            try:
                await listener(applied)
            except Exception:  # a listener's failure never undoes a stored run
                log.exception("sync.listener_failed", gateway=applied.gateway)

    def _log_run(
        self,
        before: GatewayState,
        record: RunRecord,
        error: BaseException | None,
        *,
        plan: SyncPlan | None = None,
        result: RunResult | None = None,
        warnings: tuple[str, ...] = (),
    ) -> None:
        """The run's one summary line (outcome, counts, duration, bytes, attempts), after the
        observer has counted it. A failure streak's first run logs at warning level (with the
        traceback of an internal error), its recovery as ``sync.recovered``; every other run,
        failed ones included, as ``sync.run``."""
        fields: dict[str, Any] = {
            "gateway": record.gateway,
            "outcome": record.outcome.value,
            "added": record.added,
            "updated": record.updated,
            "removed": record.removed,
            "restored": record.restored,
            "missing": record.missing,
            "total_models": record.total_models,
            "duration_ms": record.duration_ms,
            "trigger": record.trigger.value,
            "quarantined": len(record.quarantined or ()),
        }
        if warnings:
            fields["warnings"] = list(warnings)
        fields.update(
            self.observer.finished(
                before,
                record,
                plan=plan,
                error=error,
                stored_run_id=result.run_id if result else None,
                catalog_version=result.catalog_version if result else None,
            )
        )
        name = record.gateway
        if record.succeeded:
            recovered = self._streaks.recovered(name, "sync.recovered", **fields)
            if not recovered and before.consecutive_failures:
                log.info("sync.recovered", failures=before.consecutive_failures, **fields)
            elif not recovered:
                log.info("sync.run", **fields)
            return
        if self._streaks.failing(name):
            failures = self._streaks.count(name)
            log.info("sync.run", error=record.error, failures=failures, **fields)
            return
        exc_info: BaseException | bool = error if error is not None else False
        self._streaks.failed(name, "sync.failing", exc_info=exc_info, error=record.error, **fields)

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
    catalog_version: int | None = None,
    warnings: tuple[str, ...] = (),
) -> RunSummary:
    return RunSummary(
        gateway=record.gateway,
        outcome=record.outcome,
        added=record.added,
        updated=record.updated,
        removed=record.removed,
        restored=record.restored,
        missing=record.missing,
        total_models=record.total_models,
        duration_ms=round((clock.monotonic() - began) * 1000),
        error=record.error,
        catalog_version=catalog_version,
        quarantined=record.quarantined or {},
        filtered=record.filtered,
        warnings=warnings,
    )
