"""The store's SQL, built once as SQLAlchemy Core statements with named bind parameters.

Building a statement once and executing it with a parameter dict keeps each call to a cache
lookup (SQLAlchemy's compiled cache) and the driver's prepared statement: no per-call statement
construction on the hot paths. Bind parameter names carry a ``p_`` prefix so they never clash
with the column names SQLAlchemy reserves in ``SET`` clauses. See ``sql.py`` for the lease SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Delete,
    Float,
    Insert,
    Select,
    String,
    Text,
    Update,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from modelsync.domain import Presence
from modelsync.store.engine import DialectFlags
from modelsync.store.schema import (
    GATEWAY_STATE,
    UtcDateTime,
    catalog_meta,
    changes,
    gateways,
    models,
    staged_changes,
    staged_models,
    sync_runs,
    webhook_deliveries,
)

g = gateways.c
m = models.c


def _time(name: str) -> Any:
    return bindparam(name, type_=UtcDateTime())


CHANGES_CHANNEL = "modelsync_changes"
"""The PostgreSQL channel every committed run notifies (payload ``gateway``), inside the run's
transaction: the notification is delivered at commit, never for a rolled-back run. Serving
processes LISTEN on it (:mod:`modelsync.bus`)."""
NOTIFY_CHANGES = select(
    func.pg_notify(literal(CHANGES_CHANNEL), bindparam("p_gateway", type_=String))
)

CATALOG_VERSION = select(catalog_meta.c.version).where(catalog_meta.c.id == 1).scalar_subquery()
READ_CATALOG_VERSION = select(catalog_meta.c.version).where(catalog_meta.c.id == 1)
BUMP_CATALOG_VERSION = (
    update(catalog_meta)
    .where(catalog_meta.c.id == 1)
    .values(version=catalog_meta.c.version + 1)
    .returning(catalog_meta.c.version)
)

SQLITE_CLOCK = "%Y-%m-%d %H:%M:%f"
"""SQLite's clock as text in the layout SQLAlchemy stores ``DATETIME`` in (with ``000`` appended,
SQLite keeps milliseconds): lease times compare as text against the stored ones."""


def db_now(flags: DialectFlags) -> ColumnElement[Any]:
    """The database's clock: every lease time is measured by it, never by a host's clock."""
    if flags.name == "postgresql":
        return func.clock_timestamp()
    return func.strftime(SQLITE_CLOCK, "now", type_=String).concat("000")


def db_later(flags: DialectFlags) -> ColumnElement[Any]:
    """The database's clock plus ``p_ttl`` seconds: when a lease taken or renewed now expires."""
    ttl = bindparam("p_ttl", type_=Float)
    if flags.name == "postgresql":
        return func.clock_timestamp() + ttl * literal_column("interval '1 second'")
    modifier = ttl.concat(literal(" seconds", String))
    return func.strftime(SQLITE_CLOCK, "now", modifier, type_=String).concat("000")


def lease_values(flags: DialectFlags) -> dict[Any, Any]:
    """Take a lease: this owner, expiring ``p_ttl`` seconds from the database's now, a new token."""
    owner: Any = bindparam("p_owner", type_=String)
    return {
        g.lease_taken_from: case(
            (and_(g.lease_owner.is_not(None), g.lease_owner != owner), g.lease_owner), else_=None
        ),
        g.lease_owner: owner,
        g.lease_expires_at: db_later(flags),
        g.fencing_token: g.fencing_token + 1,
    }


def lease_free(flags: DialectFlags) -> ColumnElement[bool]:
    """Nobody holds the lease, it expired (by the database's clock), or ``p_owner`` holds it: a
    process may always take its own lease back (it never runs one gateway twice at once)."""
    return or_(
        g.lease_owner.is_(None),
        g.lease_owner == bindparam("p_owner"),
        g.lease_expires_at < db_now(flags),
    )


HOLDS_LEASE = and_(
    g.name == bindparam("p_gateway"),
    g.lease_owner == bindparam("p_owner"),
    g.fencing_token == bindparam("p_token"),
)


def acquire_lease(flags: DialectFlags) -> Update:
    """Take one gateway's lease when it is free (see :func:`lease_free`)."""
    return (
        update(gateways)
        .where(g.name == bindparam("p_gateway"), lease_free(flags))
        .values(lease_values(flags))
        .returning(*GATEWAY_STATE)
    )


def renew_lease(flags: DialectFlags) -> Update:
    """Extend a held lease by ``p_ttl`` seconds from the database's now; no row when it is lost."""
    return (
        update(gateways)
        .where(HOLDS_LEASE)
        .values({g.lease_expires_at: db_later(flags)})
        .returning(g.lease_expires_at)
    )


RELEASE_LEASE = update(gateways).where(HOLDS_LEASE).values(lease_owner=None, lease_expires_at=None)
SET_NEXT_RUN = (
    update(gateways).where(g.name == bindparam("p_gateway")).values(next_run_at=_time("p_at"))
)
RESCHEDULE_UNLEASED = SET_NEXT_RUN.where(
    g.fencing_token == bindparam("p_token"), g.lease_owner.is_(None)
)
"""Set a next run read with token ``p_token`` unless a lease was taken since (the token moved)
or is held: that lease's run stores the next run, and it must never be overwritten."""
SELECT_STATES = select(*GATEWAY_STATE).order_by(g.name)
SELECT_NAMED_STATES = SELECT_STATES.where(g.name.in_(bindparam("p_names", expanding=True)))
PREVIOUS_SUCCESS = select(g.last_success_at).where(g.name == bindparam("p_gateway"))
RETIRE_GATEWAYS = (
    update(gateways)
    .where(g.name.not_in(bindparam("p_names", expanding=True)))
    .values(enabled=False, disabled_reason=bindparam("p_reason"))
)
"""Disable every gateway the configuration no longer names (it stays listed, with the reason)."""


def due_names(flags: DialectFlags) -> Select[Any]:
    """Of the gateways in ``p_candidates``: the enabled, due ones whose lease is free, soonest
    first (locked, skipping rows another transaction holds, on PostgreSQL)."""
    statement = (
        select(g.name)
        .where(
            g.name.in_(bindparam("p_candidates", expanding=True)),
            g.enabled.is_(True),
            # due by the caller's clock and by the database's: a round a run has just moved on
            # is never taken again, and a host whose clock runs ahead never starts one early
            or_(
                g.next_run_at.is_(None),
                and_(g.next_run_at <= _time("p_now"), g.next_run_at <= db_now(flags)),
            ),
            lease_free(flags),
        )
        .order_by(g.next_run_at.asc().nulls_first(), g.name)
        .limit(bindparam("p_limit"))
    )
    return statement.with_for_update(skip_locked=True) if flags.skip_locked else statement


def claim(flags: DialectFlags) -> Update:
    """Lease the gateways named in ``p_names`` (PostgreSQL) or the due ones (SQLite)."""
    names: Any = bindparam("p_names", expanding=True) if flags.skip_locked else due_names(flags)
    return (
        update(gateways)
        .where(g.name.in_(names))
        .values(lease_values(flags))
        .returning(*GATEWAY_STATE)
    )


class Fence(Enum):
    """Which gateway row a finished run may write."""

    LEASE = "lease"
    """Only while ``p_owner`` holds the lease with token ``p_token``; the lease is released."""
    NONE = "none"
    """Unconditionally (a disabled gateway's run, never leased); the lease columns stay."""
    UNLESS_LEASED_ELSEWHERE = "unless_leased_elsewhere"
    """Unless another owner holds an unexpired lease (then no row: its run will record); a lease
    of ``p_owner`` is released. A run whose lease was lost records its failure this way."""


@dataclass(frozen=True, slots=True)
class RunUpdate:
    """Which gateway columns a finished run writes; each combination is one cached statement."""

    fence: Fence
    success: bool
    failure: bool
    keep_validators: bool
    model_count: bool
    full_sync: bool
    next_run: bool
    bump_version: bool
    quarantine: bool = False


@cache
def run_update(shape: RunUpdate, flags: DialectFlags) -> Update:
    """``UPDATE gateways`` for a finished run, returning the gateway and catalog versions."""
    values: dict[Any, Any] = {
        g.last_attempt_at: _time("p_started_at"),
        g.last_outcome: bindparam("p_outcome"),
    }
    if shape.success:
        values[g.last_success_at] = _time("p_finished_at")
        values[g.consecutive_failures] = 0
        values[g.last_error] = None
        for column in (g.etag, g.last_modified, g.body_hash):
            given = bindparam(f"p_{column.name}", type_=column.type)
            values[column] = func.coalesce(given, column) if shape.keep_validators else given
        if shape.model_count:
            values[g.model_count] = bindparam("p_model_count")
        if shape.full_sync:
            values[g.last_full_sync_at] = _time("p_finished_at")
    elif shape.failure:
        values[g.consecutive_failures] = g.consecutive_failures + 1
        values[g.last_error] = bindparam("p_error")
    if shape.quarantine:
        values[g.quarantined] = bindparam("p_quarantined", type_=g.quarantined.type)
    if shape.next_run:
        values[g.next_run_at] = _time("p_next_run_at")
    if shape.bump_version:
        values[g.version] = g.version + 1
    statement = update(gateways)
    if shape.fence is Fence.LEASE:
        statement = statement.where(HOLDS_LEASE)
    else:
        statement = statement.where(g.name == bindparam("p_gateway"))
    if shape.fence is Fence.UNLESS_LEASED_ELSEWHERE:
        statement = statement.where(lease_free(flags))
    if shape.fence is not Fence.NONE:
        values[g.lease_owner] = None
        values[g.lease_expires_at] = None
    return statement.values(values).returning(g.version, CATALOG_VERSION)


def _dialect_insert(flags: DialectFlags, table: Any) -> Any:
    return postgresql.insert(table) if flags.name == "postgresql" else sqlite.insert(table)


def register(flags: DialectFlags) -> Insert:
    """Insert gateways; on conflict only their configuration columns change."""
    statement = _dialect_insert(flags, gateways)
    excluded = statement.excluded
    columns = ("tier", "interval_s", "enabled", "disabled_reason")
    result: Insert = statement.on_conflict_do_update(
        index_elements=[g.name], set_={name: excluded[name] for name in columns}
    )
    return result


MODEL_COLUMNS = (
    "gateway",
    "gateway_model_id",
    "model_id",
    "name",
    "provider_slug",
    "presence",
    "status",
    "miss_count",
    "content_hash",
    "data",
    "first_seen_at",
    "last_seen_at",
    "updated_at",
    "version",
)


def _copied_json(text: ColumnElement[Any], flags: DialectFlags) -> ColumnElement[Any]:
    """Staged JSON text as the served JSON columns take it (``json`` on PostgreSQL; SQLite's
    JSON is that text)."""
    return cast(text, postgresql.JSON) if flags.name == "postgresql" else text


def publish_models(flags: DialectFlags) -> Insert:
    """Copy a run's staged models (``p_gateway``, ``p_token``) into ``models`` as present rows
    of version ``p_version`` seen at ``p_now``; an existing row keeps ``first_seen_at`` (and
    ``updated_at`` when neither its content nor its presence changed)."""
    staged = staged_models.c
    now = _time("p_now")
    data = _copied_json(staged.data, flags)
    rows = select(
        staged.gateway,
        staged.gateway_model_id,
        staged.model_id,
        staged.name,
        staged.provider_slug,
        literal(Presence.PRESENT.value),
        staged.status,
        literal(0),
        staged.content_hash,
        data,
        now,
        now,
        now,
        bindparam("p_version", type_=BigInteger),
    ).where(staged.gateway == bindparam("p_gateway"), staged.token == bindparam("p_token"))
    statement = _dialect_insert(flags, models).from_select(MODEL_COLUMNS, rows)
    new = statement.excluded
    same = and_(m.content_hash == new.content_hash, m.presence == Presence.PRESENT.value)
    replaced = [name for name in MODEL_COLUMNS[2:] if name not in ("first_seen_at", "updated_at")]
    set_: dict[str, Any] = {name: new[name] for name in replaced}
    set_["updated_at"] = case((same, m.updated_at), else_=new.updated_at)
    result: Insert = statement.on_conflict_do_update(
        index_elements=[m.gateway, m.gateway_model_id], set_=set_
    )
    return result


def publish_changes(flags: DialectFlags) -> Insert:
    """Append a run's staged changes to ``changes``, in the plan's order (``ord``): the seqs
    follow it, as the single writer (or the catalog_meta row lock) assigns them."""
    staged = staged_changes.c
    rows = (
        select(
            staged.gateway,
            staged.gateway_model_id,
            staged.model_id,
            staged.kind,
            _copied_json(staged.fields, flags),
            _copied_json(staged.anomalies, flags),
            bindparam("p_source", type_=String),
            bindparam("p_run_id", type_=BigInteger),
            bindparam("p_catalog_version", type_=BigInteger),
            _time("p_now"),
            staged.head.concat(bindparam("p_doc_tail", type_=Text)),
        )
        .where(staged.gateway == bindparam("p_gateway"), staged.token == bindparam("p_token"))
        .order_by(staged.ord)
    )
    columns = (
        "gateway",
        "gateway_model_id",
        "model_id",
        "kind",
        "fields",
        "anomalies",
        "source",
        "run_id",
        "catalog_version",
        "at",
        "doc",
    )
    return insert(changes).from_select(columns, rows)


SEQS_OF_RUN = (
    select(changes.c.seq).where(changes.c.run_id == bindparam("p_run_id")).order_by(changes.c.seq)
)
CLEAR_STAGED = tuple(
    delete(table).where(
        table.c.gateway == bindparam("p_gateway"), table.c.token <= bindparam("p_token")
    )
    for table in (staged_models, staged_changes)
)
"""A gateway's staged rows up to a token: leftovers of runs that never published, and then
the publishing run's own."""

STAGED_MODEL_COLUMNS = (
    "gateway",
    "token",
    "gateway_model_id",
    "model_id",
    "name",
    "provider_slug",
    "status",
    "content_hash",
    "data",
)
STAGED_CHANGE_COLUMNS = (
    "gateway",
    "token",
    "ord",
    "gateway_model_id",
    "model_id",
    "kind",
    "fields",
    "anomalies",
    "head",
)


def stage_rows(flags: DialectFlags, table: str, columns: tuple[str, ...]) -> str:
    """``INSERT`` of staged rows as the driver takes them (``?`` on SQLite, ``$n`` on
    PostgreSQL), executed many at once: a row costs the driver's time, no per-row statement
    processing."""
    if flags.name == "postgresql":
        marks = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    else:
        marks = ", ".join("?" * len(columns))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - constants


def _seen_until_now() -> ColumnElement[Any]:
    """A present model leaving the catalog was last seen on the gateway's previous success."""
    return case(
        (m.presence == Presence.PRESENT.value, func.coalesce(_time("p_seen"), m.last_seen_at)),
        else_=m.last_seen_at,
    )


def _model_row() -> ColumnElement[bool]:
    return and_(m.gateway == bindparam("p_gateway"), m.gateway_model_id == bindparam("p_id"))


MOVE_MODEL_ROW = update(models).where(_model_row()).values({m.gateway_model_id: bindparam("p_new")})
"""A model whose gateway model id changed (case or spacing): its row and first-seen
time move to the new id (past changes keep the id they were recorded under); the upsert that
follows writes its new content."""

MARK_MISSING = (
    update(models)
    .where(_model_row())
    .values(
        {
            m.presence: Presence.MISSING.value,
            m.status: Presence.MISSING.value,
            m.miss_count: bindparam("p_misses"),
            m.last_seen_at: _seen_until_now(),
            m.updated_at: case(
                (m.presence == Presence.MISSING.value, m.updated_at), else_=_time("p_now")
            ),
            m.version: bindparam("p_version"),
        }
    )
)
MARK_REMOVED = (
    update(models)
    .where(_model_row())
    .values(
        {
            m.presence: Presence.REMOVED.value,
            m.status: Presence.REMOVED.value,
            m.miss_count: m.miss_count + 1,
            m.last_seen_at: _seen_until_now(),
            m.updated_at: _time("p_now"),
            m.version: bindparam("p_version"),
        }
    )
)


def insert_changes(flags: DialectFlags) -> Insert:
    """Append changes, returning their seqs (in parameter order, or to be sorted: see flags)."""
    ordered = not flags.sort_returned_seqs
    return insert(changes).returning(changes.c.seq, sort_by_parameter_order=ordered)


INSERT_RUN = insert(sync_runs)

CLAIM_IDENTITY_MIGRATION = (
    update(catalog_meta)
    .where(
        catalog_meta.c.id == 1,
        catalog_meta.c.identity_rules.is_distinct_from(bindparam("p_rules", type_=String(64))),
    )
    .values(identity_rules=bindparam("p_rules", type_=String(64)))
)
"""Store the new fingerprint unless it is stored: the first write of the migration's transaction,
so it takes the catalog_meta row lock (PostgreSQL) or the file's write lock (SQLite, whose driver
begins a transaction at the first write, not at a SELECT) before anything is read."""
ALL_MODELS = select(m.gateway, m.gateway_model_id, m.data)
RENAME_MODEL = (
    update(models)
    .where(_model_row())
    .values(
        {
            m.model_id: bindparam("p_model_id"),
            m.provider_slug: bindparam("p_provider"),
            m.data: bindparam("p_data", type_=m.data.type),
            m.content_hash: bindparam("p_hash"),
            m.updated_at: _time("p_now"),
            m.version: bindparam("p_version"),
        }
    )
)
REWRITE_MODEL_DATA = (
    update(models).where(_model_row()).values({m.data: bindparam("p_data", type_=m.data.type)})
)
REKEY_HISTORY = (
    update(changes)
    .where(
        changes.c.gateway == bindparam("p_gateway"),
        changes.c.gateway_model_id == bindparam("p_id"),
    )
    .values(model_id=bindparam("p_model_id"), doc=None)
)
"""Attach a model's whole change history to its new canonical id (its changes' stored JSON
names the old one: they are read from their columns from now on)."""
BUMP_GATEWAY_VERSIONS = (
    update(gateways)
    .where(g.name.in_(bindparam("p_names", expanding=True)))
    .values(version=g.version + 1)
    .returning(g.name, g.version)
)

GATEWAY_VERSION = select(g.version).where(g.name == bindparam("p_gateway"))
CATALOG_PAGE = (
    select(m.gateway_model_id, m.data, m.presence, m.miss_count)
    .where(m.gateway == bindparam("p_gateway"), m.gateway_model_id > bindparam("p_after"))
    .order_by(m.gateway_model_id)
    .limit(bindparam("p_limit"))
)
"""One page of a gateway's stored models, after ``p_after`` in id order (the unique index's)."""


def record_delivery(flags: DialectFlags) -> Insert:
    """Insert deliveries, or replace expired ones with the same key; returns the keys stored."""
    table = webhook_deliveries
    statement = _dialect_insert(flags, table)
    new = statement.excluded
    set_ = {column.name: new[column.name] for column in table.c if column.name != "id"}
    result: Insert = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_=set_,
        where=table.c.expires_at <= new.received_at,
    ).returning(table.c.key)
    return result


def _prune_statements() -> tuple[Delete, Delete, Delete, Delete, Delete, Delete]:
    """Runs older than ``p_runs_before`` / past ``p_runs_keep`` per gateway, changes older than
    ``p_changes_before`` / past the newest ``p_changes_keep``, deliveries expired at ``p_now``,
    models removed before ``p_models_before``."""
    runs = sync_runs.c
    newest_first = func.row_number().over(partition_by=runs.gateway, order_by=runs.id.desc())
    ranked = select(runs.id, newest_first.label("n")).subquery()
    cutoff_seq = (
        select(changes.c.seq)
        .order_by(changes.c.seq.desc())
        .limit(1)
        .offset(bindparam("p_changes_keep"))
        .scalar_subquery()
    )
    return (
        delete(sync_runs).where(runs.finished_at < _time("p_runs_before")),
        delete(sync_runs).where(
            runs.id.in_(select(ranked.c.id).where(ranked.c.n > bindparam("p_runs_keep")))
        ),
        delete(changes).where(changes.c.at < _time("p_changes_before")),
        delete(changes).where(changes.c.seq <= cutoff_seq),
        delete(webhook_deliveries).where(webhook_deliveries.c.expires_at <= _time("p_now")),
        delete(models).where(
            m.presence == Presence.REMOVED.value, m.updated_at < _time("p_models_before")
        ),
    )


PRUNE = _prune_statements()


@dataclass(frozen=True, slots=True)
class DialectStatements:
    """The statements whose SQL differs between SQLite and PostgreSQL."""

    acquire: Update
    renew: Update
    due: Select[Any]
    claim: Update
    register: Insert
    publish_models: Insert
    publish_changes: Insert
    stage_models: str
    stage_changes: str
    insert_changes: Insert
    record_delivery: Insert
    previous_success: Select[Any]


def for_dialect(flags: DialectFlags) -> DialectStatements:
    """Build them once per store."""
    previous = PREVIOUS_SUCCESS.with_for_update() if flags.skip_locked else PREVIOUS_SUCCESS
    return DialectStatements(
        acquire=acquire_lease(flags),
        renew=renew_lease(flags),
        due=due_names(flags),
        claim=claim(flags),
        register=register(flags),
        publish_models=publish_models(flags),
        publish_changes=publish_changes(flags),
        stage_models=stage_rows(flags, "staged_models", STAGED_MODEL_COLUMNS),
        stage_changes=stage_rows(flags, "staged_changes", STAGED_CHANGE_COLUMNS),
        insert_changes=insert_changes(flags),
        record_delivery=record_delivery(flags),
        previous_success=previous,
    )


DELIVERY_COLUMNS = (
    "key",
    "scheme",
    "gateway",
    "event_types",
    "model_count",
    "received_at",
    "expires_at",
    "detail",
)


@lru_cache(maxsize=64)
def sqlite_record_deliveries(rows: int) -> str:
    """:func:`record_delivery` for ``rows`` deliveries as one SQLite statement (qmark style).

    The webhook recorder commits every delivery, in batches before the answers; bound through the
    driver (``exec_driver_sql``) it costs a few microseconds a row, where SQLAlchemy's per-row
    parameter processing costs ten times that. Same semantics as :func:`record_delivery`.
    """
    group = "(" + ", ".join("?" * len(DELIVERY_COLUMNS)) + ")"
    updates = ", ".join(f"{name} = excluded.{name}" for name in DELIVERY_COLUMNS[1:])
    columns = ", ".join(DELIVERY_COLUMNS)
    return (
        f"INSERT INTO webhook_deliveries ({columns}) "  # noqa: S608 - constant names; values bound
        f"VALUES {', '.join([group] * rows)} "
        f"ON CONFLICT (key) DO UPDATE SET {updates} "
        "WHERE webhook_deliveries.expires_at <= excluded.received_at "
        "RETURNING key"
    )


LAST_WEBHOOK = (
    update(gateways)
    .where(
        g.name == bindparam("p_gateway"),
        or_(
            g.last_webhook_at.is_(None),
            g.last_webhook_at <= bindparam("p_at", type_=g.last_webhook_at.type),
        ),
    )
    .values(last_webhook_at=bindparam("p_at"), last_webhook=bindparam("p_info"))
)
"""Keep a gateway's newest accepted webhook (never move it back in time)."""
