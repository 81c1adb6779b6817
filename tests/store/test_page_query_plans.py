"""``EXPLAIN`` pins the pages' plans (issue 10) on both databases: each order of ``/models`` reads
its rows from its own index (no sort of the table), a model's history and the change feed walk
an index backwards, and the windows of the overview, rankings and status charts are index ranges.
The expression indexes are matched only when the query renders exactly the migration's text:
these tests are what keeps the two in step."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.sql.expression import ClauseElement

from modelsync.store import page_queries as pq
from modelsync.store.sql import SqlStore

from .factories import at
from .test_query_plans import postgres_plan, sqlite_plan

Read = tuple[ClauseElement, dict[str, Any]]
PAGE = {"p_limit": 100, "p_offset": 0}


def page_read(dialect: str, **shape: Any) -> Read:
    params = PAGE | {"p_gateway": "groq", "p_provider": "vendor1", "p_modality": "image"}
    params |= {"p_since": at(0)} | pq.CAPABILITY_PARAMS
    return pq.page_models(pq.PageShape(dialect, **shape)), params


SORTED = [
    pytest.param({"sort": pq.Sort.PROMPT}, "ix_models_order_prompt", id="prompt"),
    pytest.param({"sort": pq.Sort.COMPLETION}, "ix_models_order_completion", id="completion"),
    pytest.param({"sort": pq.Sort.CONTEXT}, "ix_models_order_context", id="context"),
    pytest.param({"sort": pq.Sort.NEWEST}, "ix_models_order_newest", id="newest"),
    pytest.param({}, "ix_models_listing", id="catalog"),
    pytest.param({"gateway": True}, "ix_models_listing", id="gateway"),
    pytest.param({"modality": True}, "ix_models_listing", id="modality"),
    pytest.param(
        {"sort": pq.Sort.PROMPT, "capability": "vision"}, "ix_models_order_prompt", id="vision"
    ),
    pytest.param(
        {"sort": pq.Sort.PROMPT, "capability": "long"}, "ix_models_order_prompt", id="long"
    ),
    pytest.param(
        {"sort": pq.Sort.NEWEST, "since": True}, "ix_models_order_newest", id="new-this-week"
    ),
]


async def assert_index(
    backend: str, store: SqlStore, db_url: str, read: Read, index: str, *, sorts: bool = False
) -> None:
    """The read uses ``index``, and (unless ``sorts``) sorts nothing."""
    if backend == "sqlite":
        plan = await sqlite_plan(store, *read)
        assert index.startswith("pk_") or f"INDEX {index}" in plan, plan
        if not sorts:
            assert "TEMP B-TREE" not in plan, plan
        return
    nodes = await postgres_plan(db_url, *read, sorts=sorts)
    assert index in {node.get("Index Name") for node in nodes}, nodes
    if not sorts:
        assert "Sort" not in {node["Node Type"] for node in nodes}, nodes


@pytest.mark.parametrize(("shape", "index"), SORTED)
async def test_model_pages_read_each_order_from_its_index(
    backend: str, catalog: SqlStore, db_url: str, shape: dict[str, Any], index: str
) -> None:
    """/models sorted by prompt or completion price, context or newest (and the rankings'
    cheapest per capability) read the rows in order from that order's index: no sort, no
    query per row, a page stops at its limit."""
    read = page_read(catalog.dialect, **shape)
    await assert_index(backend, catalog, db_url, read, index)


CHANGE_PAGES = [
    pytest.param({}, "pk_changes", id="all"),
    pytest.param({"before": True}, "pk_changes", id="before"),
    pytest.param({"before": True, "kind": True}, "pk_changes", id="kind"),
    pytest.param({"gateway": True}, "ix_changes_gateway_seq", id="gateway"),
    pytest.param({"model": True, "before": True}, "ix_changes_model_id_seq", id="model"),
]


@pytest.mark.parametrize(("shape", "index"), CHANGE_PAGES)
async def test_change_pages_walk_an_index_newest_first(
    backend: str, catalog: SqlStore, db_url: str, shape: dict[str, Any], index: str
) -> None:
    """/changes and a model page's history read newest first through an index, by cursor."""
    params = {"p_before": 10, "p_gateway": "groq", "p_model": "vendor1/model-4"}
    params |= {"p_kind": "updated", "p_limit": 50}
    read = (pq.recent_changes(pq.ChangePageShape(**shape)), params)
    await assert_index(backend, catalog, db_url, read, index)


WINDOWS = [
    pytest.param(pq.CHANGES_SINCE, "ix_changes_at", id="changes-since"),
    pytest.param(pq.CHANGE_KINDS_SINCE, "ix_changes_at", id="change-kinds"),
    pytest.param(pq.RUN_POINTS, "ix_sync_runs_finished_at", id="run-points"),
    pytest.param(pq.gateway_runs(), "ix_sync_runs_gateway_id", id="gateway-runs"),
]


@pytest.mark.parametrize(("statement", "index"), WINDOWS)
async def test_time_windows_are_index_ranges(
    backend: str, catalog: SqlStore, db_url: str, statement: ClauseElement, index: str
) -> None:
    """The overview's last day, the rankings' week and the status charts' runs are ranges of a
    time index, read in order; a gateway's recent runs walk its (gateway, id) index."""
    params = {"p_since": at(0), "p_limit": 500, "p_gateway": "groq"}
    await assert_index(backend, catalog, db_url, (statement, params), index)
