"""The SQL store: the one :class:`~modelsync.store.base.Store`, for SQLite and PostgreSQL alike.

SQLAlchemy 2 Core, async. The parts: :mod:`~modelsync.store.engine` (engine set-up, dialect
flags), :mod:`~modelsync.store.database` (connections, transactions, errors as StoreError),
:mod:`~modelsync.store.statements` (the write and lease SQL, built once) and
:mod:`~modelsync.store.queries` (the read side's SELECTs), and the pure
:mod:`~modelsync.store.rows` (values to rows and back). SQLite and PostgreSQL differ only where a
named flag of :class:`~modelsync.store.engine.DialectFlags` says:

``single_writer`` (SQLite)
    One held connection writes, write transactions serialized by an ``asyncio.Lock`` (SQLite has
    one writer per file anyway; the held connection saves a pool checkout and reset per write).
    Transactions begin ``IMMEDIATE`` inside the driver. Reads use the pool (WAL).
``skip_locked`` (PostgreSQL)
    A pooled connection per transaction; ``claim_due`` selects ``FOR UPDATE SKIP LOCKED``, and a
    run that marks models missing or removed locks its gateway row first (``FOR UPDATE``).
``migrates_on_open`` (SQLite)
    ``open()`` creates the file and migrates it to head. On PostgreSQL ``open()`` raises
    StoreError unless the schema is at head (``modelsync db upgrade``), or migrates when the
    store was built with ``auto_upgrade=True`` (tests).
``sort_returned_seqs`` (SQLite)
    How ``INSERT INTO changes ... RETURNING seq`` keeps the seqs in the plan's order.

The lease SQL (``statements.py``). Lease times are the database's clock (``clock_timestamp()``
on PostgreSQL, ``strftime('%Y-%m-%d %H:%M:%f', 'now')`` on SQLite), never a host's: a process
whose clock is off neither steals a live lease nor keeps a dead one. Taking a lease is one atomic
statement that bumps the fencing token and returns the row, so two processes can never both get
it::

    UPDATE gateways SET lease_owner = :owner, lease_expires_at = <db now> + :ttl,
                        fencing_token = fencing_token + 1
    WHERE name = :gateway
      AND (lease_owner IS NULL OR lease_owner = :owner OR lease_expires_at < <db now>)
    RETURNING *

A process may always take its own lease back (after a run whose release failed with the database
away); it never runs one gateway twice at once, so that is its own business. Leases are short
(tens of seconds) and the runner renews a held one (``renew_lease``) while its run lasts.
``claim_due`` on PostgreSQL first picks the due rows among the caller's candidates with ``SELECT
name FROM gateways WHERE name IN (:candidates) AND enabled AND (next_run_at IS NULL OR next_run_at
<= :now) AND <lease free> ORDER BY next_run_at NULLS FIRST, name LIMIT :limit FOR UPDATE SKIP
LOCKED`` (rows another process is claiming are skipped, not waited for), then leases those names
with the same ``UPDATE``; on SQLite the ``UPDATE ... WHERE name IN (<that SELECT>)`` is one
statement under the file's write lock. The returned state's lease columns show the new lease;
everything else is the row as it was. Every write of a run is fenced: before any model or change
is written, ``finish_run`` runs ``UPDATE gateways ... WHERE name = :gateway AND lease_owner =
:owner AND fencing_token = :token``, and zero rows means LeaseLost: the transaction rolls back and
nothing of the run is written. (An expired lease that nobody took over still finishes: the token,
not the clock, decides.) ``record_unleased_failure`` records a run whose lease is gone: its row
always, the gateway's failure unless another owner holds a live lease.

What ``finish_run`` writes to the gateway row: ``last_attempt_at`` = the run's start,
``last_outcome``, ``next_run_at`` when the run sets it, and the lease released (``lease=None``
leaves the lease columns alone). A success (changed, unchanged, not_modified) sets
``last_success_at`` = the run's finish, zero failures, no error, the run's ETag, Last-Modified
and body hash (a not_modified run's ``None`` keeps the stored value: a 304 need not repeat
them), ``model_count`` = ``plan.total_models`` when a plan is given, and ``last_full_sync_at``
for a full sync. A failed or rejected run adds one failure and sets ``last_error``.

Writes are few and cached: recording an unchanged run is one ``UPDATE gateways ... RETURNING``
(state, validators, lease release, and the versions read back) and one ``INSERT INTO sync_runs``.
A plan adds the catalog version bump (``UPDATE catalog_meta``: its row lock also serializes
applies on PostgreSQL, so ``seq`` order is commit order and a ``since`` cursor never skips a
change) and its rows, in two steps:

* **Staged.** The plan's models and changes become rows of ``staged_models`` and
  ``staged_changes`` (keyed by gateway and fencing token, JSON as text), written through the
  driver in one executemany each. A plan of more than ``STAGE_CHUNK`` rows is staged *before* the
  run's transaction, in transactions of ``STAGE_CHUNK`` rows: the Python work of a 100,000-model
  plan never holds SQLite's one write lock for longer than one chunk, and other processes' writes
  go in between (readers never look at staged rows). A smaller plan is staged inside the run's
  transaction. Leftovers of a run that never published (a crash, a lost lease) are cleared by the
  next staging of that gateway (every token up to its own).
* **Published**, in the run's one transaction: rows renamed, one ``INSERT INTO models SELECT ...
  FROM staged_models ON CONFLICT DO UPDATE``, the missing and removed marks, one ``INSERT INTO
  changes SELECT ... ORDER BY ord`` (seqs in the plan's order, read back by run id). Each copy is
  a single statement, so however big the plan, that transaction lasts as long as the database's
  copying; readers see the old catalog or the new one, never half. A big plan's staged rows are
  deleted after the commit. Present models are not rewritten on every poll, so a present
model's ``last_seen_at`` is served as its gateway's ``last_success_at``, and a model that goes
missing keeps the time of the last success that saw it (:func:`rows.stored_model_from_row`).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import ClauseElement

from modelsync.domain import (
    CatalogEntry,
    ChangeKind,
    ChangeRecord,
    Model,
    ModelChange,
    RunOutcome,
    SyncPlan,
    ValuePool,
)
from modelsync.errors import LeaseLost, StoreError
from modelsync.identity.unmatched import OfferRow
from modelsync.store import processes, queries, references, renames, rows, served
from modelsync.store import statements as sql
from modelsync.store.base import (
    ALL_CHANGES,
    ChangeSelection,
    GatewayRegistration,
    GatewayState,
    IdentityMigration,
    Lease,
    LeaseGrant,
    ModelQuery,
    ProcessBeat,
    ProcessRow,
    PruneResult,
    RetentionPolicy,
    RunRecord,
    RunResult,
    ServedChangePage,
    ServedGateway,
    ServedStatuses,
    Store,
    StoredCatalog,
    StoredModel,
    StoredReference,
    StoredRun,
    WebhookDelivery,
)
from modelsync.store.database import SqlDatabase
from modelsync.store.served import ServedRows

FAILED_OUTCOMES = (RunOutcome.FAILED, RunOutcome.REJECTED)
STAGE_CHUNK = 2_000
"""Rows per staging transaction; a plan with more models and changes than this is staged ahead
of the run's transaction, in transactions of this size."""
LOAD_PAGE = 1_000
"""Stored models read per query when a catalog is loaded."""
SERVED_GATEWAYS_KEPT = 16_384
"""Typed status rows kept (:meth:`SqlStore.gateway_statuses`); all dropped past this."""
_ROW_KEYS = itertools.count(1)
"""The key of each distinct status row read in this process (``ServedStatuses.keys``)."""
RETIRED = "removed from the configuration"
"""The disabled reason of a gateway registered before but absent from the configuration now."""


class SqlStore(Store):
    """The store on ``sqlite+aiosqlite:///path`` or ``postgresql+asyncpg://...``."""

    def __init__(self, url: str, *, echo: bool = False, auto_upgrade: bool = False) -> None:
        self.database = SqlDatabase(url, echo=echo, auto_upgrade=auto_upgrade)
        self.flags = self.database.flags
        self._sql = sql.for_dialect(self.flags)
        self._write = self.database.write
        self._read = self.database.read
        self._time_text = served.time_text_for(self.flags.name)
        self._served_gateways: dict[tuple[str, int, int | None], tuple[int, ServedGateway]] = {}
        """Each status row read, typed, by its name, row version and last run: a status of 1,000
        gateways reads and types only the rows a run or a webhook changed since the last read."""

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        await self.database.open()

    async def close(self) -> None:
        await self.database.close()

    async def ping(self) -> None:
        async with self._read("ping") as conn:
            await conn.execute(select(1))

    # -- gateways and leases ---------------------------------------------------------------

    async def register_gateways(self, gateways: Sequence[GatewayRegistration]) -> None:
        if not gateways:
            return
        names = [gateway.name for gateway in gateways]
        values = [rows.registration_values(gateway) for gateway in gateways]
        async with self._write("register gateways") as conn:
            await conn.execute(self._sql.register, values)
            await conn.execute(sql.RETIRE_GATEWAYS, {"p_names": names, "p_reason": RETIRED})

    async def gateway_states(self, names: Sequence[str] | None = None) -> list[GatewayState]:
        if names is not None and not names:
            return []
        statement = sql.SELECT_STATES if names is None else sql.SELECT_NAMED_STATES
        params = {} if names is None else {"p_names": list(names)}
        async with self._read("read gateway states") as conn:
            result = await conn.execute(statement, params)
            return [rows.state_from_row(row) for row in result.mappings()]

    async def acquire_lease(self, gateway: str, owner: str, *, ttl_s: float) -> LeaseGrant | None:
        params = {"p_owner": owner, "p_ttl": ttl_s, "p_gateway": gateway}
        async with self._write("take a lease") as conn:
            row = (await conn.execute(self._sql.acquire, params)).mappings().first()
        return None if row is None else _grant(row)

    async def renew_lease(self, lease: Lease, *, ttl_s: float) -> Lease | None:
        params = _holder_params(lease) | {"p_ttl": ttl_s}
        async with self._write("renew a lease") as conn:
            expires = (await conn.execute(self._sql.renew, params)).scalar_one_or_none()
        return None if expires is None else replace(lease, expires_at=expires)

    async def claim_due(
        self,
        owner: str,
        *,
        now: datetime,
        ttl_s: float,
        limit: int,
        candidates: Sequence[str],
    ) -> list[LeaseGrant]:
        if limit <= 0 or not candidates:
            return []
        params: dict[str, Any] = {
            "p_owner": owner,
            "p_ttl": ttl_s,
            "p_now": now,
            "p_limit": limit,
            "p_candidates": list(candidates),
        }
        async with self._write("claim due gateways") as conn:
            if self.flags.skip_locked:
                names = (await conn.execute(self._sql.due, params)).scalars().all()
                if not names:
                    return []
                params["p_names"] = list(names)
            found = (await conn.execute(self._sql.claim, params)).mappings().all()
        grants = [_grant(row) for row in found]
        grants.sort(key=lambda grant: _due_order(grant.state))
        return grants

    async def release_lease(self, lease: Lease) -> None:
        async with self._write("release a lease") as conn:
            await conn.execute(sql.RELEASE_LEASE, _holder_params(lease))

    async def set_next_run(self, gateway: str, at: datetime | None) -> None:
        async with self._write("set the next run") as conn:
            result = await conn.execute(sql.SET_NEXT_RUN, {"p_gateway": gateway, "p_at": at})
            if result.rowcount == 0:
                raise StoreError(f"unknown gateway {gateway!r}")

    async def reschedule_unleased(self, gateway: str, at: datetime | None, *, token: int) -> bool:
        params = {"p_gateway": gateway, "p_at": at, "p_token": token}
        async with self._write("set the next run") as conn:
            result = await conn.execute(sql.RESCHEDULE_UNLEASED, params)
        return bool(result.rowcount)

    # -- runs ------------------------------------------------------------------------------

    async def load_catalog(self, gateway: str) -> StoredCatalog:
        """Read in pages of ``LOAD_PAGE`` rows, each made a lean entry before the next is read:
        a 100,000-model catalog never sits in memory as rows (the caller holds the gateway's
        lease, so no other writer moves it between pages)."""
        params: dict[str, Any] = {"p_gateway": gateway, "p_after": "", "p_limit": LOAD_PAGE}
        async with self._read("load the catalog") as conn:
            version = (await conn.execute(sql.GATEWAY_VERSION, params)).scalar_one_or_none()
        if version is None:
            return StoredCatalog(gateway, 0, {})
        entries: dict[str, CatalogEntry] = {}
        entry = rows.entry_from_row
        while True:
            async with self._read("load the catalog") as conn:
                found = (await conn.execute(sql.CATALOG_PAGE, params)).all()
            pool: ValuePool = {}  # one page's shared values
            for model_id, data, presence, misses in found:
                entries[model_id] = entry(data, presence, misses, pool=pool)
            if len(found) < LOAD_PAGE:
                return StoredCatalog(gateway, version, entries)
            params["p_after"] = found[-1][0]

    async def finish_run(
        self,
        run: RunRecord,
        plan: SyncPlan | None,
        *,
        lease: Lease | None,
        now: datetime,
    ) -> RunResult:
        applies = _check_run(run, plan, lease)
        fence = sql.Fence.NONE if lease is None else sql.Fence.LEASE
        shape = _run_shape(run, fence, model_count=plan is not None, applies=applies is not None)
        params = rows.run_update_params(run, plan.total_models if plan is not None else None)
        if lease is not None:
            params |= _holder_params(lease)
        token = lease.token if lease is not None else 0
        ahead = applies is not None and staged_size(applies) > STAGE_CHUNK
        if ahead:  # big: staged in short transactions of their own, published below
            assert applies is not None
            await self._stage(applies, token, None)
        async with self._write("record the run") as conn:
            seen = None  # the last success before this run: when leaving models were last seen
            if applies is not None and (applies.missing or applies.removed):
                found = await conn.execute(self._sql.previous_success, params)
                seen = found.scalar_one_or_none()
            row = (await conn.execute(sql.run_update(shape, self.flags), params)).first()
            if row is None:
                if lease is not None:
                    raise LeaseLost(f"the lease on {run.gateway!r} (token {lease.token}) was lost")
                raise StoreError(f"unknown gateway {run.gateway!r}")
            gateway_version, catalog_version = row
            if applies is not None:
                catalog_version = (await conn.execute(sql.BUMP_CATALOG_VERSION)).scalar_one()
            values = rows.run_values(run, catalog_version if applies is not None else None)
            key = (await conn.execute(sql.INSERT_RUN, values)).inserted_primary_key
            assert key is not None  # an INSERT always has one
            run_id = int(key[0])
            seqs: Sequence[int] = ()
            if applies is not None:
                if not ahead:  # small: staged inside this transaction
                    await self._stage(applies, token, conn)
                common = {"p_gateway": applies.gateway, "p_seen": seen, "p_now": now}
                common |= {"p_version": gateway_version, "p_token": token}
                published = common | {"p_run_id": run_id, "p_catalog_version": catalog_version}
                published |= {
                    "p_source": run.trigger.value,
                    "p_doc_tail": rows.change_tail(run.trigger, catalog_version, now),
                }
                seqs = await self._publish(conn, applies, common, published)
                if not ahead:
                    await self._clear_staged(conn, applies.gateway, token)
            await self._notify(conn, run.gateway)
        if ahead:  # the staged copies go after the commit, outside the catalog's transaction
            assert applies is not None
            await self._clear_staged(None, applies.gateway, token)
        changes = applies.changes if applies else ()
        records = await asyncio.to_thread(  # 50,000 of them are a while of CPU: off the loop
            _change_records,
            seqs,
            changes,
            run=run,
            run_id=run_id,
            catalog_version=catalog_version,
            now=now,
        )
        return RunResult(run_id, catalog_version, gateway_version, records)

    async def record_unleased_failure(self, run: RunRecord, *, owner: str) -> int:
        if run.succeeded:
            raise ValueError(f"a {run.outcome.value} run is recorded with finish_run")
        shape = _run_shape(run, sql.Fence.UNLESS_LEASED_ELSEWHERE, model_count=False, applies=False)
        params = rows.run_update_params(run, None) | {"p_owner": owner}
        async with self._write("record the run") as conn:
            # no row: another owner holds a live lease, and its run records the gateway's state
            await conn.execute(sql.run_update(shape, self.flags), params)
            values = rows.run_values(run, None)
            key = (await conn.execute(sql.INSERT_RUN, values)).inserted_primary_key
            await self._notify(conn, run.gateway)
        assert key is not None  # an INSERT always has one
        return int(key[0])

    async def _notify(self, conn: AsyncConnection, gateway: str) -> None:
        """PostgreSQL: NOTIFY the change-log channel in this transaction (sent at its commit)."""
        if self.flags.name == "postgresql":
            await conn.execute(sql.NOTIFY_CHANGES, {"p_gateway": gateway})

    async def _stage(self, plan: SyncPlan, token: int, conn: AsyncConnection | None) -> None:
        """Write the plan's models and changes to the staging tables, after clearing what older
        runs of the gateway left there: inside ``conn``'s transaction, or (``None``) in
        transactions of their own of ``STAGE_CHUNK`` rows, so no write holds SQLite's lock long
        (other processes' writes go in between; readers never see staged rows)."""
        clear = {"p_gateway": plan.gateway, "p_token": token}
        batches = (
            (self._sql.stage_models, rows.staged_models(plan, token)),
            (self._sql.stage_changes, rows.staged_changes(plan, token)),
        )
        if conn is not None:
            for statement in sql.CLEAR_STAGED:
                await conn.execute(statement, clear)
            for text, staged in batches:
                chunk = await asyncio.to_thread(list, staged)
                if chunk:
                    await conn.exec_driver_sql(text, chunk)
            return
        async with self._write("stage the run") as writer:
            for statement in sql.CLEAR_STAGED:
                await writer.execute(statement, clear)
        for text, staged in batches:  # rows built in a thread: the event loop keeps serving
            while chunk := await asyncio.to_thread(_take, staged, STAGE_CHUNK):
                async with self._write("stage the run") as writer:
                    await writer.exec_driver_sql(text, chunk)

    async def _publish(
        self,
        conn: AsyncConnection,
        plan: SyncPlan,
        common: dict[str, Any],
        published: dict[str, Any],
    ) -> Sequence[int]:
        """Inside finish_run's transaction: turn the staged plan into the catalog (renamed rows
        moved, upserts copied, missing and removed marked, changes appended) and return the
        changes' seqs in the plan's order. Each copy is one statement, so however big the plan,
        the transaction's time is the database's copying, not Python's."""
        if plan.renamed:
            renames = [{"p_id": old, "p_new": new} for old, new in plan.renamed]
            await conn.execute(sql.MOVE_MODEL_ROW, [common | rename for rename in renames])
        if plan.upserts:
            await conn.execute(self._sql.publish_models, common)
        if plan.missing:
            marks = [
                common | {"p_id": mark.gateway_model_id, "p_misses": mark.miss_count}
                for mark in plan.missing
            ]
            await conn.execute(sql.MARK_MISSING, marks)
        if plan.removed:
            await conn.execute(sql.MARK_REMOVED, [common | {"p_id": i} for i in plan.removed])
        seqs: Sequence[int] = ()
        if plan.changes:
            rekeyed = [
                {"p_gateway": c.gateway, "p_id": c.gateway_model_id, "p_model_id": c.id}
                for c in plan.changes
                if c.kind is ChangeKind.UPDATED and "id" in c.fields
            ]
            if rekeyed:  # a model whose canonical id moved takes its history along
                await conn.execute(sql.REKEY_HISTORY, rekeyed)
            await conn.execute(self._sql.publish_changes, published)
            seqs = (await conn.execute(sql.SEQS_OF_RUN, published)).scalars().all()
        return seqs

    async def _clear_staged(self, conn: AsyncConnection | None, gateway: str, token: int) -> None:
        """Delete a published run's staged rows: inside ``conn``'s transaction, or (``None``)
        one short transaction per table, best effort (a later run of the gateway clears what is
        left, and nothing reads them)."""
        params = {"p_gateway": gateway, "p_token": token}
        if conn is not None:
            for statement in sql.CLEAR_STAGED:
                await conn.execute(statement, params)
            return
        try:
            for statement in sql.CLEAR_STAGED:
                async with self._write("clear the staged rows") as writer:
                    await writer.execute(statement, params)
        except StoreError:
            return

    async def migrate_identities(
        self, fingerprint: str, identify: Callable[[Model], Model], *, now: datetime
    ) -> IdentityMigration | None:
        async with self._write("migrate canonical ids") as conn:
            await self._notify(conn, "")
            return await renames.migrate_identities(
                conn,
                self._sql,
                fingerprint=fingerprint,
                identify=identify,
                now=now,
                sort_seqs=self.flags.sort_returned_seqs,
            )

    async def list_runs(self, *, gateway: str | None = None, limit: int = 50) -> list[StoredRun]:
        async with self._read("list runs") as conn:
            found = (await conn.execute(queries.runs(gateway=gateway, limit=limit))).mappings()
            return [rows.run_from_row(row) for row in found]

    async def gateway_statuses(self, gateway: str | None = None) -> ServedStatuses:
        found = await self.database.fetch(
            queries.gateway_keys(gateway is not None),
            {"p_gateway": gateway},
            action="read gateway statuses",
        )
        if not found:
            return ServedStatuses(await self.catalog_version(), [])
        memo = self._served_gateways
        if len(memo) > SERVED_GATEWAYS_KEPT:
            memo.clear()
        wanted = [(name, row_version, run_id) for _, name, row_version, run_id in found]
        unseen = [key[0] for key in wanted if key not in memo]
        newest = await self._read_statuses(unseen) if unseen else {}
        keys, gateways = [], []
        for key in wanted:
            # a row that changed between the two reads is served as the second one read it
            kept = memo.get(key) or newest[key[0]]
            keys.append(kept[0])
            gateways.append(kept[1])
        return ServedStatuses(int(found[0][0]), gateways, keys)

    async def _read_statuses(self, names: list[str]) -> dict[str, tuple[int, ServedGateway]]:
        """The named gateways' whole status rows, typed and kept by (name, row version, run)."""
        statement = queries.gateway_statuses(self.flags.name)
        found = await self.database.fetch(
            statement,
            {"p_names": queries.names_param(names, self.flags.name)},
            action="read gateway statuses",
        )
        readers = served.value_readers(statement, self.flags.name)
        read: dict[str, tuple[int, ServedGateway]] = {}
        for row in found:
            gateway = rows.served_gateway(served.typed(row, readers)[1:])
            kept = (next(_ROW_KEYS), gateway)
            self._served_gateways[gateway.name, row[0], gateway.run_id] = kept
            read[gateway.name] = kept
        return read

    # -- read side -------------------------------------------------------------------------

    async def catalog_version(self) -> int:
        async with self._read("read the catalog version") as conn:
            version: int = (await conn.execute(sql.READ_CATALOG_VERSION)).scalar_one()
        return version

    async def list_models(self, query: ModelQuery) -> list[StoredModel]:
        shape = queries.model_shape(query, self.flags.name)
        statement = queries.selected_models(shape, queries.Columns.DOMAIN)
        return await self._stored_models(statement, queries.model_params(query))

    async def model_offers(self, model_id: str) -> list[StoredModel]:
        statement = queries.offers(queries.Columns.DOMAIN)
        return await self._stored_models(statement, {"p_model_id": model_id})

    async def offer_index(self) -> list[OfferRow]:
        async with self._read("read the offer index") as conn:
            found = (await conn.execute(queries.OFFER_INDEX)).all()
        return [OfferRow(*row) for row in found]

    async def _stored_models(self, statement: Any, params: dict[str, Any]) -> list[StoredModel]:
        async with self._read("read models") as conn:
            found = (await conn.execute(statement, params)).mappings().all()
        return [rows.stored_model_from_row(row) for row in found]

    async def list_changes(
        self,
        *,
        since: int | None = None,
        gateway: str | None = None,
        model: str | None = None,
        limit: int = 100,
        select_by: ChangeSelection = ALL_CHANGES,
    ) -> list[ChangeRecord]:
        statement, params = _changes_query(
            since, gateway, model, limit, queries.Columns.DOMAIN, select_by
        )
        async with self._read("list changes") as conn:
            found = (await conn.execute(statement, params)).mappings().all()
        return [rows.change_from_row(row) for row in found]

    # -- served reads (the JSON API) -------------------------------------------------------

    async def served_models(self, query: ModelQuery) -> ServedRows:
        shape = queries.model_shape(query, self.flags.name)
        statement = queries.selected_models(shape, queries.Columns.SERVED)
        return await self._served_models(statement, queries.model_params(query))

    async def served_offers(self, model_id: str) -> ServedRows:
        statement = queries.offers(queries.Columns.SERVED)
        return await self._served_models(statement, {"p_model_id": model_id})

    async def _served_models(self, statement: Any, params: dict[str, Any]) -> ServedRows:
        found = await self.database.fetch(statement, params, action="read models")
        version = found[0][0] if found else await self.catalog_version()
        return ServedRows(version, served.model_rows(found, self._time_text))

    async def served_changes(
        self,
        *,
        since: int | None,
        gateway: str | None,
        model: str | None,
        limit: int,
        select_by: ChangeSelection = ALL_CHANGES,
    ) -> list[dict[str, Any]]:
        statement, params = _changes_query(
            since, gateway, model, limit, queries.Columns.SERVED, select_by
        )
        found = await self.database.fetch(statement, params, action="list changes")
        return served.change_rows(found, self._time_text)

    async def served_change_page(
        self,
        *,
        since: int | None,
        gateway: str | None,
        model: str | None,
        limit: int,
        select_by: ChangeSelection = ALL_CHANGES,
    ) -> ServedChangePage:
        statement, params = _changes_query(
            since, gateway, model, limit, queries.Columns.DOCUMENT, select_by
        )
        found = await self.database.fetch(statement, params, action="list changes")
        if not found:  # empty: after a cursor, one more statement for the oldest retained seq
            oldest = None if since is None else await self.oldest_change_seq()
            return ServedChangePage([], None, None, oldest)
        oldest = found[0][-1]
        documents = served.change_documents(found)
        if documents is not None:
            newest = max(row[0] for row in found), max(row[1] for row in found)
            return ServedChangePage(documents, *newest, oldest)
        # a change without its stored JSON: the page from the columns
        rebuilt = await self.served_changes(
            since=since, gateway=gateway, model=model, limit=limit, select_by=select_by
        )
        if not rebuilt:
            return ServedChangePage([], None, None, oldest)
        seq, version = (
            max(change[key] for change in rebuilt) for key in ("seq", "catalog_version")
        )
        return ServedChangePage(list(rebuilt), seq, version, oldest)

    @property
    def dialect(self) -> str:
        return self.flags.name

    async def read_rows(
        self, statement: ClauseElement, params: Mapping[str, Any], *, action: str
    ) -> list[Sequence[Any]]:
        return await self.database.fetch(statement, params, action=action)

    async def oldest_change_seq(self) -> int | None:
        found = await self.database.fetch(
            queries.OLDEST_CHANGE, {}, action="read the oldest change"
        )
        return None if not found or found[0][0] is None else int(found[0][0])

    # -- webhooks and housekeeping ---------------------------------------------------------

    async def record_delivery(self, delivery: WebhookDelivery) -> bool:
        return (await self.record_deliveries([delivery]))[0]

    async def record_deliveries(self, deliveries: Sequence[WebhookDelivery]) -> list[bool]:
        """One transaction (one multi-row upsert); a key repeated in the call is a duplicate."""
        firsts: dict[str, WebhookDelivery] = {}
        for delivery in deliveries:
            firsts.setdefault(delivery.key, delivery)
        if not firsts:
            return []
        async with self._write("record webhook deliveries") as conn:
            if self.flags.single_writer:  # SQLite: bound at the driver, see the statement
                params = [p for d in firsts.values() for p in rows.sqlite_delivery_params(d)]
                text = sql.sqlite_record_deliveries(len(firsts))
                result = await conn.exec_driver_sql(text, tuple(params))
            else:
                values = [rows.delivery_values(delivery) for delivery in firsts.values()]
                result = await conn.execute(self._sql.record_delivery, values)
            stored = set(result.scalars().all())
            latest = rows.last_webhook_params(list(firsts.values()), stored)
            if latest:
                await conn.execute(sql.LAST_WEBHOOK, latest)
        answers = []
        for delivery in deliveries:
            answers.append(delivery.key in stored)
            stored.discard(delivery.key)
        return answers

    async def heartbeat_process(self, beat: ProcessBeat, *, expire_after_s: float) -> None:
        async with self._write("record this process") as conn:
            await conn.execute(processes.heartbeat(self.flags), processes.beat_params(beat))
            await conn.execute(processes.expire(self.flags), {"p_ttl": -expire_after_s})

    async def live_processes(self, *, expire_after_s: float) -> list[ProcessRow]:
        async with self._read("list the processes") as conn:
            found = await conn.execute(processes.live(self.flags), {"p_ttl": -expire_after_s})
            return [ProcessRow(**row) for row in found.mappings().all()]

    async def leave_process(self, process_id: str) -> None:
        async with self._write("remove this process") as conn:
            await conn.execute(processes.LEAVE, {"p_id": process_id})

    async def reference_stamps(self) -> dict[str, str]:
        async with self._read("read the reference catalogs' stamps") as conn:
            found = await conn.execute(references.STAMPS)
            return {str(row[0]): str(row[1]) for row in found.all()}

    async def load_references(self) -> list[StoredReference]:
        async with self._read("load the reference catalogs") as conn:
            found = (await conn.execute(references.ALL)).mappings().all()
        return [references.from_row(row) for row in found]

    async def save_reference(self, reference: StoredReference) -> None:
        async with self._write("store a reference catalog") as conn:
            for statement in references.replace_rows(reference):
                await conn.execute(statement)

    async def list_deliveries(self, *, limit: int = 50) -> list[WebhookDelivery]:
        async with self._read("list webhook deliveries") as conn:
            found = (await conn.execute(queries.deliveries(limit=limit))).mappings().all()
        return [rows.delivery_from_row(row) for row in found]

    async def prune(self, policy: RetentionPolicy, *, now: datetime) -> PruneResult:
        params = {
            "p_runs_before": now - timedelta(days=policy.runs_days),
            "p_runs_keep": policy.runs_keep_per_gateway,
            "p_changes_before": now - timedelta(days=policy.changes_days),
            "p_changes_keep": policy.changes_keep,
            "p_now": now,
            "p_models_before": now - timedelta(days=policy.removed_models_days),
        }
        async with self._write("prune") as conn:
            counts = [(await conn.execute(statement, params)).rowcount for statement in sql.PRUNE]
        runs_old, runs_over, changes_old, changes_over, deliveries, removed = counts
        return PruneResult(runs_old + runs_over, changes_old + changes_over, deliveries, removed)


def _changes_query(  # noqa: PLR0917 - the read's filters, in their order
    since: int | None,
    gateway: str | None,
    model: str | None,
    limit: int,
    columns: queries.Columns,
    select_by: ChangeSelection,
) -> tuple[Any, dict[str, Any]]:
    shape = queries.ChangeShape(
        since is not None,
        gateway is not None,
        model is not None,
        run=select_by.run_id is not None,
        kind=select_by.kind is not None,
        newest_first=select_by.newest_first,
    )
    params = {
        "p_since": since,
        "p_gateway": gateway,
        "p_model": model,
        "p_limit": limit,
        "p_run": select_by.run_id,
        "p_kind": select_by.kind,
    }
    return queries.changes_after(shape, columns), params


def _holder_params(lease: Lease) -> dict[str, Any]:
    return {"p_gateway": lease.gateway, "p_owner": lease.owner, "p_token": lease.token}


def _change_records(
    seqs: Sequence[int],
    changes: Sequence[ModelChange],
    *,
    run: RunRecord,
    run_id: int,
    catalog_version: int,
    now: datetime,
) -> tuple[ChangeRecord, ...]:
    return tuple(
        ChangeRecord(seq, change, run.trigger, run_id, catalog_version, now)
        for seq, change in zip(seqs, changes, strict=True)
    )


def _take(rows_: Iterator[rows.StagedRow], count: int) -> list[rows.StagedRow]:
    return list(itertools.islice(rows_, count))


def staged_size(plan: SyncPlan) -> int:
    """How many rows a plan stages (models and changes)."""
    return len(plan.upserts) + len(plan.changes)


def _run_shape(
    run: RunRecord, fence: sql.Fence, *, model_count: bool, applies: bool
) -> sql.RunUpdate:
    return sql.RunUpdate(
        fence=fence,
        success=run.succeeded,
        failure=run.outcome in FAILED_OUTCOMES,
        keep_validators=run.outcome is RunOutcome.NOT_MODIFIED,
        model_count=model_count,
        full_sync=run.full_sync,
        next_run=run.next_run_at is not None,
        bump_version=applies,
        quarantine=run.succeeded and run.quarantined is not None,
    )


def _grant(row: Any) -> LeaseGrant:
    state = rows.state_from_row(row)
    owner, expires = state.lease_owner, state.lease_expires_at
    assert owner is not None  # the lease UPDATE set both
    assert expires is not None
    return LeaseGrant(Lease(state.name, owner, state.fencing_token, expires), state)


def _due_order(state: GatewayState) -> tuple[bool, datetime | None, str]:
    at = state.next_run_at
    return (at is not None, at, state.name)


def _check_run(run: RunRecord, plan: SyncPlan | None, lease: Lease | None) -> SyncPlan | None:
    """The plan to apply (``None`` when there is nothing to apply); ValueError for misuse."""
    if lease is not None and lease.gateway != run.gateway:
        raise ValueError(f"the lease is on {lease.gateway!r}, the run on {run.gateway!r}")
    if plan is None or plan.is_empty:
        return None
    if plan.gateway != run.gateway:
        raise ValueError(f"the plan is for {plan.gateway!r}, the run for {run.gateway!r}")
    if not run.succeeded:
        raise ValueError(f"a {run.outcome.value} run applies no plan")
    return plan
