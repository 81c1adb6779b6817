"""The store interface, documented once: everything modelsync persists goes through :class:`Store`.

One implementation ships, :class:`modelsync.store.sql.SqlStore` (SQLAlchemy 2, async), for SQLite
and PostgreSQL alike; the contract suite in ``tests/store/`` runs against both.

Rules every implementation keeps:

* **One transaction per run.** :meth:`Store.finish_run` writes the run record, the gateway's state
  and, when the plan is not empty, the models and changes, and bumps the catalog versions, in one
  transaction. A crash leaves the old catalog or the new one, never half. (The rows of a big plan
  may be staged beforehand, in short transactions of their own, into tables nothing reads: that
  one transaction then only copies them, so it never holds a database lock for long.)
* **Leases with fencing.** A run starts with :meth:`Store.acquire_lease`; every grant carries a
  fencing token that is bumped on each grant. :meth:`Store.finish_run` succeeds only while the
  lease is still held with that token, and raises :class:`~modelsync.errors.LeaseLost` otherwise,
  writing nothing. Leases are short and measured by the database's clock; the holder renews its
  lease while the run lasts (:meth:`Store.renew_lease`), so a holder that died is replaced within
  one lease time.
* **Versions.** ``catalog_version`` is global and grows by one with every applied non-empty plan;
  each gateway has its own counter as well. Changes get a global, increasing ``seq``.
* **Times** are timezone-aware UTC ``datetime`` values, always passed in (the clock is injected).
* Database errors surface as :class:`~modelsync.errors.StoreError` (``raise ... from``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from modelsync.domain import (
    CatalogEntry,
    ChangeRecord,
    ChangeSource,
    Model,
    ModelStatus,
    RunOutcome,
    SyncPlan,
)
from modelsync.identity.unmatched import OfferRow

if TYPE_CHECKING:  # the interface imports no database library
    from sqlalchemy.sql.expression import ClauseElement

    from modelsync.store.served import ServedRows


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayRegistration:
    """What the configuration says about a gateway; written at start-up, state kept."""

    name: str
    tier: str
    interval_s: int
    enabled: bool
    disabled_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayState:
    """A gateway's row: configuration, schedule, last outcome, validators and lease."""

    name: str
    tier: str
    interval_s: int
    enabled: bool
    disabled_reason: str | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_outcome: RunOutcome | None
    consecutive_failures: int
    next_run_at: datetime | None
    model_count: int
    version: int
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    last_full_sync_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    fencing_token: int
    last_webhook_at: datetime | None = None
    last_webhook: Mapping[str, Any] | None = None
    lease_taken_from: str | None = None
    """The owner whose lapsed lease the holder took over (``None``: the lease was free)."""
    """The newest accepted webhook naming this gateway: ``received_at``, ``event_types``,
    ``models``, ``scheme``. Kept on the row, so it outlives the deliveries' dedupe window."""
    quarantined: Mapping[str, str] | None = None
    """The entries the last snapshot read set aside (id or place -> reason): quarantined now."""


@dataclass(frozen=True, slots=True)
class Lease:
    """The right to run one gateway until ``expires_at``; ``token`` fences every write."""

    gateway: str
    owner: str
    token: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LeaseGrant:
    """A lease and the gateway's state as it was when the lease was taken."""

    lease: Lease
    state: GatewayState


def duration_ms(started_at: datetime, finished_at: datetime) -> int:
    """A run's duration in whole milliseconds."""
    return round((finished_at - started_at).total_seconds() * 1000)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """One finished run, as :meth:`Store.finish_run` records it."""

    gateway: str
    trigger: ChangeSource
    outcome: RunOutcome
    started_at: datetime
    finished_at: datetime
    added: int = 0
    updated: int = 0
    removed: int = 0
    restored: int = 0
    missing: int = 0
    total_models: int = 0
    http_status: int | None = None
    bytes: int = 0
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    full_sync: bool = False
    next_run_at: datetime | None = None
    """When set, the gateway's next run is written in the same transaction."""
    quarantined: Mapping[str, str] | None = None
    """The entries this run set aside, by id (or place), with their reasons; ``None`` when it
    read no snapshot. Written on the gateway too (what :attr:`GatewayState.quarantined` is)."""
    filtered: Mapping[str, int] = field(default_factory=dict)
    """Entries the adapter left out by design (other accounts, training endpoints), by reason."""

    @property
    def duration_ms(self) -> int:
        return duration_ms(self.started_at, self.finished_at)

    @property
    def succeeded(self) -> bool:
        return self.outcome in (RunOutcome.CHANGED, RunOutcome.UNCHANGED, RunOutcome.NOT_MODIFIED)


@dataclass(frozen=True, slots=True)
class StoredRun:
    """A run as read back: the record with its id and the catalog version it produced."""

    id: int
    record: RunRecord
    catalog_version: int | None


class ServedGateway(NamedTuple):
    """A gateway as its status is served: the state's fields the status shows (named as on
    :class:`GatewayState`), then its newest run's (``run_*``, all ``None`` before the first).
    A tuple, not a frozen dataclass: a status page builds one per gateway."""

    name: str
    tier: str
    interval_s: int
    enabled: bool
    disabled_reason: str | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_outcome: RunOutcome | None
    consecutive_failures: int
    next_run_at: datetime | None
    model_count: int
    version: int
    last_webhook: Mapping[str, Any] | None
    quarantined: Mapping[str, str] | None
    run_id: int | None
    run_trigger: ChangeSource | None
    run_outcome: RunOutcome | None
    run_started_at: datetime | None
    run_finished_at: datetime | None
    run_added: int | None
    run_updated: int | None
    run_removed: int | None
    run_restored: int | None
    run_missing: int | None
    run_total_models: int | None
    run_http_status: int | None
    run_bytes: int | None
    run_error: str | None
    run_quarantined: Mapping[str, str] | None
    run_filtered: Mapping[str, int] | None


@dataclass(frozen=True, slots=True)
class ServedStatuses:
    """Gateways as their status is served, and the catalog version, read at one moment."""

    catalog_version: int
    gateways: list[ServedGateway]
    keys: list[int] | None = None
    """A key of each gateway's row as read, unique in the process: the same key, the same row,
    so a caller may reuse what it built from it (the status API keeps each gateway's JSON)."""


@dataclass(frozen=True, slots=True)
class ServedChangePage:
    """A page of the change feed as the API serves it."""

    changes: list[Any]
    """Each change's JSON: ``orjson.Fragment`` text, or a dict of one (orjson writes both)."""
    newest_seq: int | None
    """The largest seq on the page (``None``: empty)."""
    newest_version: int | None
    """The largest catalog version on the page (``None``: empty)."""
    oldest_seq: int | None
    """The oldest retained change's seq."""


@dataclass(frozen=True, slots=True)
class RunResult:
    """What :meth:`Store.finish_run` wrote."""

    run_id: int
    catalog_version: int
    """The global version after the run (unchanged when the plan was empty)."""
    gateway_version: int
    changes: tuple[ChangeRecord, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityMigration:
    """What :meth:`Store.migrate_identities` did."""

    renamed: int = 0
    """Models whose canonical id (or author) changed: each recorded as one change."""
    rewritten: int = 0
    """Models rewritten for another identity attribute (their variants), without a change."""
    catalog_version: int | None = None
    """The catalog version after the renames (``None`` when nothing was renamed)."""
    changes: tuple[ChangeRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredCatalog:
    """Every stored model of one gateway (present, missing and removed) and its version."""

    gateway: str
    version: int
    entries: Mapping[str, CatalogEntry]


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredModel:
    """A model as the read side serves it."""

    model: Model
    status: ModelStatus
    miss_count: int
    first_seen_at: datetime
    last_seen_at: datetime
    updated_at: datetime
    content_hash: str

    def to_json(self) -> dict[str, Any]:
        data = self.model.to_json()
        data.update(
            status=self.status.value,
            first_seen_at=self.first_seen_at.isoformat(),
            last_seen_at=self.last_seen_at.isoformat(),
            updated_at=self.updated_at.isoformat(),
            content_hash=self.content_hash,
        )
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelQuery:
    gateway: str | None = None
    provider: str | None = None
    q: str | None = None
    include_removed: bool = False
    limit: int = 500
    offset: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeSelection:
    """Which changes a change read picks besides its cursor and filters, and in what order."""

    run_id: int | None = None
    """Only the changes of this run."""
    kind: str | None = None
    """Only changes of this kind (``added``, ``updated``, ``removed``, ``restored``)."""
    newest_first: bool = False
    """Newest first (``--last N``), instead of oldest first after a cursor."""


ALL_CHANGES = ChangeSelection()


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookDelivery:
    """An accepted (or duplicate) webhook delivery; ``key`` is the idempotency key."""

    key: str
    scheme: str
    gateway: str | None
    event_types: tuple[str, ...]
    model_count: int
    received_at: datetime
    expires_at: datetime
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessBeat:
    """What a serving process reports about itself on each heartbeat."""

    id: str
    host: str
    pid: int
    version: str
    started_at: datetime
    applied_version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessRow:
    """A live process as the registry holds it, with the database's now and catalog version."""

    id: str
    host: str
    pid: int
    version: str
    started_at: datetime
    last_seen_at: datetime
    applied_version: int
    behind_since: datetime | None
    now: datetime
    catalog_version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionPolicy:
    """How long history is kept; expired webhook deliveries always go (their window is over)."""

    runs_days: int
    runs_keep_per_gateway: int
    changes_days: int
    changes_keep: int
    removed_models_days: int = 90
    """A model removed from its gateway this many days ago is deleted (its changes stay)."""


@dataclass(frozen=True, slots=True)
class PruneResult:
    runs: int
    changes: int
    deliveries: int
    models: int = 0


@dataclass(frozen=True, slots=True)
class StoredReference:
    """A reference catalog's last good fetch: when, its body's hash, its price table (JSON)."""

    name: str
    fetched_at: datetime
    body_hash: str
    prices: Mapping[str, Any]


class Store(ABC):
    """Everything modelsync persists. See the module docstring for the rules."""

    # -- lifecycle -------------------------------------------------------------------------

    @abstractmethod
    async def open(self) -> None:
        """Connect; a SQLite database is created and migrated to the latest schema on first use."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def ping(self) -> None:
        """Raise StoreError unless the database answers."""

    # -- gateways and leases ---------------------------------------------------------------

    @abstractmethod
    async def register_gateways(self, gateways: Sequence[GatewayRegistration]) -> None:
        """Insert or update the configuration columns of these gateways; state is kept.

        Every registered gateway missing from ``gateways`` is disabled, its reason "removed from
        the configuration" (it stays listed, with its history, and is never claimed). An empty
        list changes nothing.
        """

    @abstractmethod
    async def gateway_states(self, names: Sequence[str] | None = None) -> list[GatewayState]:
        """Registered gateways (all, or these names), ordered by name."""

    @abstractmethod
    async def acquire_lease(self, gateway: str, owner: str, *, ttl_s: float) -> LeaseGrant | None:
        """Take the gateway's lease for ``ttl_s`` seconds of the database's clock, unless another
        owner holds an unexpired one (then ``None``). ``owner`` may always retake its own."""

    @abstractmethod
    async def renew_lease(self, lease: Lease, *, ttl_s: float) -> Lease | None:
        """Extend a held lease to ``ttl_s`` seconds from the database's now; ``None`` when the
        lease was lost (taken over or released)."""

    @abstractmethod
    async def claim_due(
        self,
        owner: str,
        *,
        now: datetime,
        ttl_s: float,
        limit: int,
        candidates: Sequence[str],
    ) -> list[LeaseGrant]:
        """Lease up to ``limit`` of ``candidates`` that are enabled, due at ``now`` and free (or
        ``owner``'s own), skipping rows locked by others. The caller leaves out the gateways it is
        running itself."""

    @abstractmethod
    async def release_lease(self, lease: Lease) -> None:
        """Give the lease up early (no-op when it was lost)."""

    @abstractmethod
    async def set_next_run(self, gateway: str, at: datetime | None) -> None: ...

    @abstractmethod
    async def reschedule_unleased(self, gateway: str, at: datetime | None, *, token: int) -> bool:
        """Set the next run of a gateway whose state was read with fencing token ``token`` and
        no lease, unless a lease was taken since or is held (then ``False``): a run that took
        the lease stores its own next run, which a stale read must never overwrite."""

    # -- runs ------------------------------------------------------------------------------

    @abstractmethod
    async def load_catalog(self, gateway: str) -> StoredCatalog:
        """Every stored model of the gateway, keyed by gateway model id."""

    @abstractmethod
    async def finish_run(
        self,
        run: RunRecord,
        plan: SyncPlan | None,
        *,
        lease: Lease | None,
        now: datetime,
    ) -> RunResult:
        """Record a run and apply its plan, in one transaction; release the lease.

        ``lease=None`` records without a lease (a gateway that is disabled was never leased).
        Raises LeaseLost, writing nothing, when ``lease`` is no longer held with its token.
        """

    @abstractmethod
    async def record_unleased_failure(self, run: RunRecord, *, owner: str) -> int:
        """Record a failed run whose lease is gone (lost, or never recorded by a run that raised).

        The run's row is always written; the gateway's failure count, error and next run only
        when no other owner holds an unexpired lease (that owner's run records the state). A lease
        ``owner`` still holds is released. Returns the run's id.
        """

    @abstractmethod
    async def list_runs(self, *, gateway: str | None = None, limit: int = 50) -> list[StoredRun]:
        """Newest first."""

    # -- reference price catalogs ----------------------------------------------------------

    @abstractmethod
    async def reference_stamps(self) -> dict[str, str]:
        """Each stored reference catalog's body hash, by name: one small read telling whether
        another process stored a newer fetch."""

    @abstractmethod
    async def load_references(self) -> list[StoredReference]:
        """Every stored reference catalog."""

    @abstractmethod
    async def save_reference(self, reference: StoredReference) -> None:
        """Store a catalog's fetch, replacing the one stored under its name."""

    @abstractmethod
    async def migrate_identities(
        self, fingerprint: str, identify: Callable[[Model], Model], *, now: datetime
    ) -> IdentityMigration | None:
        """Bring every stored model's canonical identity up to the rules, once per fingerprint.

        ``fingerprint`` names the rules and overrides of this process; when the store already
        holds it, nothing happens (``None``). Otherwise, in one transaction that applies wait for:
        every stored model (removed ones too) goes through the pure ``identify``; a model whose
        ``id`` or ``provider_slug`` changes is renamed (its row, the ``model_id`` of all its past
        changes, and one ``updated`` change ``{"id": [old, new]}`` with source ``identity``; its
        gateway's version and the catalog version are bumped); a model whose ``variants`` alone
        changed is rewritten silently; then the fingerprint is stored. Runs that later see an id
        change (new evidence from a gateway) get the same history treatment in ``finish_run``.
        """

    @abstractmethod
    async def gateway_statuses(self, gateway: str | None = None) -> ServedStatuses:
        """Registered gateways (all, or the one named) by name, each with its last run, and the
        catalog version: one statement, whatever the number of gateways."""

    # -- read side -------------------------------------------------------------------------

    @abstractmethod
    async def catalog_version(self) -> int: ...

    @abstractmethod
    async def list_models(self, query: ModelQuery) -> list[StoredModel]:
        """Models by gateway, then id; ``q`` matches id, name or gateway model id (any case),
        ranked (see ``queries.py``)."""

    @abstractmethod
    async def model_offers(self, model_id: str) -> list[StoredModel]:
        """Every gateway's offer of one canonical model id (removed ones included)."""

    @abstractmethod
    async def offer_index(self) -> list[OfferRow]:
        """Every current (not removed) offer's gateway, gateway model id, canonical id, name."""

    @abstractmethod
    async def list_changes(
        self,
        *,
        since: int | None = None,
        gateway: str | None = None,
        model: str | None = None,
        limit: int = 100,
        select_by: ChangeSelection = ALL_CHANGES,
    ) -> list[ChangeRecord]:
        """Changes with ``seq > since``, oldest first (``select_by`` may pick newest first, one
        run's, one kind's); ``model`` matches the canonical id."""

    # -- served reads: the JSON API's, as JSON, in one statement each ---------------------

    @abstractmethod
    async def served_models(self, query: ModelQuery) -> ServedRows:
        """:meth:`list_models` as :meth:`StoredModel.to_json` fragments, with the catalog
        version read in the same statement."""

    @abstractmethod
    async def served_offers(self, model_id: str) -> ServedRows:
        """:meth:`model_offers` as :meth:`StoredModel.to_json` fragments (no rows: unknown)."""

    @abstractmethod
    async def served_changes(
        self,
        *,
        since: int | None,
        gateway: str | None,
        model: str | None,
        limit: int,
        select_by: ChangeSelection = ALL_CHANGES,
    ) -> list[dict[str, Any]]:
        """:meth:`list_changes` as :meth:`ChangeRecord.to_json` dicts for ``orjson.dumps``
        (``fields`` and ``anomalies`` as stored JSON fragments)."""

    @property
    @abstractmethod
    def dialect(self) -> str:
        """The database's dialect name (``sqlite``, ``postgresql``): which statement shapes of
        ``queries.py`` and ``page_queries.py`` apply."""

    @abstractmethod
    async def read_rows(
        self, statement: ClauseElement, params: Mapping[str, Any], *, action: str
    ) -> list[Sequence[Any]]:
        """One read-side SELECT (of ``page_queries.py``: the pages' reads) on the read lane, its
        rows as the driver returns them (``served.value_readers`` types them)."""

    @abstractmethod
    async def served_change_page(
        self,
        *,
        since: int | None,
        gateway: str | None,
        model: str | None,
        limit: int,
        select_by: ChangeSelection = ALL_CHANGES,
    ) -> ServedChangePage:
        """:meth:`served_changes`' changes as JSON, with their newest seq and catalog version
        and the oldest retained seq, read in one statement (two when the page is empty, or
        holds a change whose stored JSON must be rebuilt from its columns)."""

    @abstractmethod
    async def oldest_change_seq(self) -> int | None:
        """The seq of the oldest change retention kept (``None``: no change is stored)."""

    # -- webhooks and housekeeping ---------------------------------------------------------

    @abstractmethod
    async def record_delivery(self, delivery: WebhookDelivery) -> bool:
        """Store a delivery; ``False`` when its key is stored and unexpired (a duplicate)."""

    async def record_deliveries(self, deliveries: Sequence[WebhookDelivery]) -> list[bool]:
        """:meth:`record_delivery` for several deliveries, in order, durable on return.

        Implementations also keep each named gateway's ``last_webhook`` (the newest new delivery).

        The webhook recorder calls this with the deliveries that arrived while the previous batch
        committed, and answers them only once it returns (group commit); it passes each key at
        most once per call, so one multi-row ``INSERT ... ON CONFLICT ... RETURNING key`` fits.
        Backends should override this default (one call per delivery) with one transaction.
        """
        return [await self.record_delivery(delivery) for delivery in deliveries]

    # -- the process registry --------------------------------------------------------------

    @abstractmethod
    async def heartbeat_process(self, beat: ProcessBeat, *, expire_after_s: float) -> None:
        """Record the process (``last_seen_at``: the database's now; ``behind_since`` kept while
        its applied version is below the catalog version), and delete every process silent for
        longer than ``expire_after_s``."""

    @abstractmethod
    async def live_processes(self, *, expire_after_s: float) -> list[ProcessRow]:
        """The processes seen within ``expire_after_s``, oldest first, each with the database's
        now and catalog version (read in the same statement)."""

    @abstractmethod
    async def leave_process(self, process_id: str) -> None:
        """Delete the process's row (a clean shutdown)."""

    @abstractmethod
    async def list_deliveries(self, *, limit: int = 50) -> list[WebhookDelivery]:
        """Newest first."""

    @abstractmethod
    async def prune(self, policy: RetentionPolicy, *, now: datetime) -> PruneResult:
        """Delete runs, changes, removed models and expired deliveries past the policy."""
