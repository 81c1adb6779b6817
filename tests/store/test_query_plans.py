"""``EXPLAIN`` pins the read path's plans on both databases: every served order comes from an
index (no sort of the table), ``q`` goes through the text index, and status reads each gateway's
last run through an index.

SQLite: ``EXPLAIN QUERY PLAN`` must name the expected index and hold no ``TEMP B-TREE`` (a sort).
PostgreSQL: ``EXPLAIN (FORMAT JSON)`` with sequential scans and sorts switched off (so a small
test table cannot hide a missing index behind a cheap scan): the plan must use the expected
index and hold no Sort node, which it would if no index could give the order.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
import pytest
from sqlalchemy.sql.expression import ClauseElement

from modelsync.store import queries
from modelsync.store.base import ModelQuery
from modelsync.store.read_lane import SqliteReadLane, compile_read
from modelsync.store.read_lane_pg import PostgresReadLane
from modelsync.store.sql import SqlStore

from .conftest import asyncpg_dsn

SERVED = queries.Columns.SERVED


Read = tuple[ClauseElement, dict[str, Any]]


def model_read(dialect: str, **filters: Any) -> Read:
    query = ModelQuery(**filters)
    shape = queries.model_shape(query, dialect)
    return queries.selected_models(shape, SERVED), queries.model_params(query)


def change_read(*, newest_first: bool = False, **filters: Any) -> Read:
    values = {"since": None, "gateway": None, "model": None, "run": None, "kind": None} | filters
    since, gateway, model, run, kind = (values[key] is not None for key in values)
    shape = queries.ChangeShape(
        since, gateway, model, run=run, kind=kind, newest_first=newest_first
    )
    params = {f"p_{key}": value for key, value in values.items()} | {"p_limit": 100}
    return queries.changes_after(shape, SERVED), params


async def sqlite_plan(store: SqlStore, statement: ClauseElement, params: dict[str, Any]) -> str:
    """The EXPLAIN QUERY PLAN lines, joined."""
    compiled = compile_read(statement, SqliteReadLane.dialect)
    arguments = tuple(compiled.arguments(params))
    async with store.database.read("explain") as conn:
        found = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled.sql, arguments)
        return "\n".join(row[3] for row in found.all())


def plan_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(child for sub in node.get("Plans", []) for child in plan_nodes(sub))]


async def postgres_plan(
    url: str, statement: ClauseElement, params: dict[str, Any], *, sorts: bool = False
) -> list[dict[str, Any]]:
    """Every node of the JSON plan, with seq scans (and sorts, unless ``sorts``) disabled."""
    compiled = compile_read(statement, PostgresReadLane.dialect)
    connection = await asyncpg.connect(asyncpg_dsn(url), timeout=5)
    try:
        await connection.execute("SET enable_seqscan = off")
        if not sorts:
            await connection.execute("SET enable_sort = off")
        text = await connection.fetchval(
            "EXPLAIN (FORMAT JSON) " + compiled.sql, *compiled.arguments(params)
        )
    finally:
        await connection.close()
    return plan_nodes(orjson.loads(text)[0]["Plan"])


ORDERED_READS = [
    pytest.param({}, "ix_models_listing", id="catalog"),
    pytest.param({"gateway": "groq"}, "ix_models_listing", id="gateway"),
    pytest.param({"include_removed": True, "offset": 2}, "ix_models_listing", id="removed-paged"),
    pytest.param({"provider": "vendor1"}, "ix_models_provider_listing", id="provider"),
    pytest.param(
        {"provider": "vendor1", "gateway": "fal"}, "ix_models_provider_listing", id="both"
    ),
]
CHANGE_READS = [
    pytest.param({}, "pk_changes", id="all"),
    pytest.param({"since": 3}, "pk_changes", id="since"),
    pytest.param({"gateway": "groq", "since": 1}, "ix_changes_gateway_seq", id="gateway"),
    pytest.param({"model": "vendor1/model-4"}, "ix_changes_model_id_seq", id="model"),
    pytest.param({"run": 1}, "ix_changes_run_id_seq", id="run"),
    pytest.param({"run": 1, "kind": "updated"}, "ix_changes_run_id_seq", id="run-kind"),
    pytest.param({"newest_first": True}, "pk_changes", id="newest"),
    pytest.param(
        {"newest_first": True, "gateway": "groq"}, "ix_changes_gateway_seq", id="newest-gateway"
    ),
]


async def check_ordered(backend: str, store: SqlStore, db_url: str, read: Read, index: str) -> None:
    """The read uses ``index`` (on SQLite a primary key is the rowid, the table's own order) and
    sorts nothing."""
    if backend == "sqlite":
        plan = await sqlite_plan(store, *read)
        assert index.startswith("pk_") or f"INDEX {index}" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
        return
    nodes = await postgres_plan(db_url, *read)
    assert index in {node.get("Index Name") for node in nodes}, nodes
    assert "Sort" not in {node["Node Type"] for node in nodes}, nodes


@pytest.mark.parametrize(("filters", "index"), ORDERED_READS)
async def test_model_lists_read_their_order_from_an_index(
    backend: str, catalog: SqlStore, db_url: str, filters: dict[str, Any], index: str
) -> None:
    """Every filter of GET /api/models without q reads the rows in order from an index."""
    read = model_read(catalog.flags.name, **filters)
    await check_ordered(backend, catalog, db_url, read, index)


async def test_model_offers_read_their_order_from_an_index(
    backend: str, catalog: SqlStore, db_url: str
) -> None:
    """GET /api/models/{id} finds its offers, in order, through the offers index."""
    read = (queries.offers(SERVED), {"p_model_id": "vendor1/model-4"})
    await check_ordered(backend, catalog, db_url, read, "ix_models_offers")


@pytest.mark.parametrize(("filters", "index"), CHANGE_READS)
async def test_change_pages_read_their_order_from_an_index(
    backend: str, catalog: SqlStore, db_url: str, filters: dict[str, Any], index: str
) -> None:
    """Every filter of GET /api/changes reads the changes in seq order from an index."""
    await check_ordered(backend, catalog, db_url, change_read(**filters), index)


@pytest.mark.parametrize("filters", [{}, {"include_removed": True, "offset": 1}])
async def test_search_goes_through_the_text_index(
    backend: str, catalog: SqlStore, db_url: str, filters: dict[str, Any]
) -> None:
    """``q`` of three characters or more is answered by the text index, not a scan (ranking
    sorts the matches: that sort stays)."""
    read = model_read(catalog.flags.name, q="model-3", **filters)
    if backend == "sqlite":
        plan = await sqlite_plan(catalog, *read)
        assert "SCAN models_search VIRTUAL TABLE" in plan, plan
        assert "SCAN models" not in plan.replace("SCAN models_search", ""), plan
        return
    nodes = await postgres_plan(db_url, *read, sorts=True)
    assert "models_search" in {node.get("Index Name") for node in nodes}, nodes


@pytest.mark.parametrize("part", ["keys", "rows"])
async def test_status_reads_each_last_run_through_an_index(
    backend: str, catalog: SqlStore, db_url: str, part: str
) -> None:
    """GET /api/sync/status finds each gateway's newest run by one index descent, never by
    scanning the runs (a query per gateway is what it replaced): in the keys it reads of every
    gateway and in the rows it reads of those whose key it has not seen."""
    read: Read = (
        (queries.gateway_keys(named=False), {})
        if part == "keys"
        else (
            queries.gateway_statuses(catalog.flags.name),
            {"p_names": queries.names_param(["groq", "fal"], catalog.flags.name)},
        )
    )
    if backend == "sqlite":
        plan = await sqlite_plan(catalog, *read)
        assert "SEARCH sync_runs USING COVERING INDEX ix_sync_runs_gateway_id" in plan, plan
        assert "SCAN sync_runs" not in plan, plan
        assert "TEMP B-TREE" not in plan, plan
        return
    nodes = await postgres_plan(db_url, *read)
    assert "ix_sync_runs_gateway_id" in {node.get("Index Name") for node in nodes}, nodes
    assert "Sort" not in {node["Node Type"] for node in nodes}, nodes
