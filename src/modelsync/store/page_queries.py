"""PURE: the SELECT statements of the HTML pages (issue 10), one per shape, built once.

Like :mod:`modelsync.store.queries`, a page's filters choose a *shape* and each shape's statement
is cached with named ``p_*`` parameters. Every order a page offers has an index
(``schema.PAGE_ORDER_INDEXES``, migration 0005) that ends with the order's columns, so a page of
the catalog sorted by price reads its rows in order and stops at the limit; the tests pin that
with ``EXPLAIN`` on both databases (``tests/store/test_page_query_plans.py``).

The price and context orders are expressions over the stored ``data`` (no column is copied out of
it, so the write path is untouched): the prompt price as a number, unknown (``null``) last.
:class:`OrderKey` renders each for its dialect exactly as the migration's index says, which is
what lets the planner use the index.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    FunctionElement,
    Select,
    Text,
    bindparam,
    cast,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from modelsync.domain import Presence
from modelsync.store.queries import (
    CATALOG_VERSION,
    LAST_SEEN,
    PG_SEARCHED,
    SERVED_CHANGE,
    IsoTime,
    fts,
    search_rank,
)
from modelsync.store.schema import SEARCH_TABLE, changes, gateways, models, sync_runs

m = models.c
c = changes.c

UNKNOWN_PRICE = "1e300"
"""Where an unknown price sorts: after every real one (prices are bounded far below)."""

ORDER_SQL = {
    "sqlite": {
        "prompt": "coalesce(CAST(json_extract(data, '$.pricing.prompt') AS REAL), 1e300)",
        "completion": "coalesce(CAST(json_extract(data, '$.pricing.completion') AS REAL), 1e300)",
        "context": "coalesce(CAST(json_extract(data, '$.context_length') AS INTEGER), -1)",
    },
    "postgresql": {
        "prompt": "coalesce(CAST(((data -> 'pricing') ->> 'prompt') AS double precision), 1e300)",
        "completion": (
            "coalesce(CAST(((data -> 'pricing') ->> 'completion') AS double precision), 1e300)"
        ),
        "context": "coalesce(CAST((data ->> 'context_length') AS bigint), -1)",
    },
}
"""Each expression order's SQL, exactly as migration 0005 indexes it (``data`` unqualified)."""


class OrderKey(FunctionElement[Any]):
    """An expression order of ``ORDER_SQL`` (``prompt``, ``completion``, ``context``)."""

    inherit_cache = True
    _traverse_internals = [  # noqa: RUF012 - SQLAlchemy reads it as it is
        *FunctionElement._traverse_internals,
        ("order", InternalTraversal.dp_string),
    ]

    def __init__(self, order: str) -> None:
        self.order = order
        super().__init__()


@compiles(OrderKey)
def _order_key(element: OrderKey, compiler: SQLCompiler, **kw: Any) -> str:
    return ORDER_SQL[compiler.dialect.name][element.order]


class JsonListHas(FunctionElement[bool]):
    """Whether the JSON list at ``data``'s top-level key ``path`` holds the string ``value``
    (the stored lists are orjson's output: no spaces, so ``"value"`` is a token of the text)."""

    type = Boolean()
    inherit_cache = True
    _traverse_internals = [  # noqa: RUF012 - SQLAlchemy reads it as it is
        *FunctionElement._traverse_internals,
        ("path", InternalTraversal.dp_string),
    ]

    def __init__(self, path: str, value: ColumnElement[Any]) -> None:
        self.path = path
        super().__init__(value)


@compiles(JsonListHas, "sqlite")
def _json_list_has_sqlite(element: JsonListHas, compiler: SQLCompiler, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    return f"instr(json_extract(models.data, '$.{element.path}'), '\"' || {value} || '\"') > 0"


@compiles(JsonListHas, "postgresql")
def _json_list_has_postgresql(element: JsonListHas, compiler: SQLCompiler, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    return f"strpos(CAST(models.data -> '{element.path}' AS text), '\"' || {value} || '\"') > 0"


class Sort(Enum):
    """The orders of ``/models``; ``DEFAULT`` is the catalog's (gateway, id), or rank with q."""

    DEFAULT = "default"
    PROMPT = "prompt"
    COMPLETION = "completion"
    CONTEXT = "context"
    NEWEST = "newest"


DESCENDING = frozenset({Sort.CONTEXT, Sort.NEWEST})
"""Largest context and newest first; prices cheapest first."""

PAGE_COLUMNS = (
    CATALOG_VERSION,
    cast(m.data, Text),
    m.presence,
    m.status,
    IsoTime(m.first_seen_at),
    IsoTime(LAST_SEEN),
    IsoTime(m.updated_at),
)
"""What :func:`modelsync.pages.reads.offer_rows` unpacks."""


@dataclass(frozen=True, slots=True)
class PageShape:
    """Which filters and order a ``/models`` (or gateway, or rankings) page uses."""

    dialect: str
    gateway: bool = False
    provider: bool = False
    modality: bool = False
    search: bool = False
    sort: Sort = Sort.DEFAULT
    capability: str | None = None
    """Rankings: ``vision``, ``tools``, ``long`` or ``text`` (known prompt price required)."""
    since: bool = False
    """Only models first seen at or after ``p_since``."""


LONG_CONTEXT = 128_000


def _order(shape: PageShape) -> list[Any]:
    tail = [m.gateway, m.model_id, m.gateway_model_id]
    if shape.sort is Sort.DEFAULT:
        return [*search_rank(shape.dialect), *tail] if shape.search else tail
    head: Any = m.first_seen_at if shape.sort is Sort.NEWEST else OrderKey(shape.sort.value)
    columns = [head, *tail]
    if shape.sort in DESCENDING:
        return [column.desc() for column in columns]
    return columns


@cache
def page_models(shape: PageShape) -> Select[Any]:
    """A page of models (``p_limit`` from ``p_offset``) with the shape's filters and order."""
    statement = select(*PAGE_COLUMNS).select_from(
        models.join(gateways, gateways.c.name == m.gateway)
    )
    if shape.search and shape.dialect == "sqlite":
        statement = statement.join(fts, fts.c.rowid == m.row_id).where(
            fts.c[SEARCH_TABLE].op("MATCH")(bindparam("p_phrase"))
        )
    elif shape.search:
        statement = statement.where(PG_SEARCHED.ilike(bindparam("p_pattern", type_=Text)))
    if shape.gateway:
        statement = statement.where(m.gateway == bindparam("p_gateway"))
    if shape.provider:
        statement = statement.where(m.provider_slug == bindparam("p_provider"))
    if shape.modality:
        modality = bindparam("p_modality", type_=Text)
        statement = statement.where(
            or_(
                JsonListHas("input_modalities", modality),
                JsonListHas("output_modalities", modality),
            )
        )
    if shape.since:
        statement = statement.where(m.first_seen_at >= bindparam("p_since"))
    statement = _capability(statement, shape.capability)
    statement = statement.where(m.presence != Presence.REMOVED.value)
    statement = statement.order_by(*_order(shape))
    return statement.limit(bindparam("p_limit")).offset(bindparam("p_offset"))


def _capability(statement: Select[Any], capability: str | None) -> Select[Any]:
    if capability is None:
        return statement
    known = OrderKey("prompt") < 1e299
    if capability == "vision":
        return statement.where(known, JsonListHas("input_modalities", bindparam("p_image")))
    if capability == "tools":
        return statement.where(known, JsonListHas("supported_parameters", bindparam("p_tools")))
    if capability == "long":
        return statement.where(known, OrderKey("context") >= LONG_CONTEXT)
    if capability == "text":
        return statement.where(known, JsonListHas("output_modalities", bindparam("p_text")))
    raise ValueError(f"unknown capability {capability!r}")


CAPABILITY_PARAMS = {"p_image": "image", "p_tools": "tools", "p_text": "text"}


@dataclass(frozen=True, slots=True)
class ChangePageShape:
    """Filters of ``/changes`` and a model's history: newest first, before a cursor."""

    before: bool = False
    gateway: bool = False
    model: bool = False
    kind: bool = False


@cache
def recent_changes(shape: ChangePageShape) -> Select[Any]:
    """Changes with ``seq < p_before``, newest first, ``p_limit`` of them."""
    statement = select(*SERVED_CHANGE)
    if shape.before:
        statement = statement.where(c.seq < bindparam("p_before"))
    if shape.gateway:
        statement = statement.where(c.gateway == bindparam("p_gateway"))
    if shape.model:
        statement = statement.where(c.model_id == bindparam("p_model"))
    if shape.kind:
        statement = statement.where(c.kind == bindparam("p_kind"))
    return statement.order_by(c.seq.desc()).limit(bindparam("p_limit"))


CHANGES_SINCE = (
    select(*SERVED_CHANGE)
    .where(c.at >= bindparam("p_since"))
    .order_by(c.at, c.seq)
    .limit(bindparam("p_limit"))
)
"""Changes at or after ``p_since`` (the rankings' week, the overview's day), through ``at``'s
index."""

CHANGE_KINDS_SINCE = (
    select(c.gateway, c.kind)
    .where(c.at >= bindparam("p_since"))
    .order_by(c.at)
    .limit(bindparam("p_limit"))
)
"""Each change's gateway and kind since ``p_since`` (the overview counts them), through ``at``'s
index, bounded by ``p_limit``."""

r = sync_runs.c
RUN_POINTS = (
    select(
        r.gateway,
        r.outcome,
        IsoTime(r.started_at),
        IsoTime(r.finished_at),
        r.total_models,
        r.trigger,
        r.error,
        r.id,
    )
    .where(r.finished_at >= bindparam("p_since"))
    .order_by(r.finished_at)
    .limit(bindparam("p_limit"))
)
"""Runs that finished at or after ``p_since``, oldest first: the status page's charts."""


@cache
def gateway_runs() -> Select[Any]:
    """A gateway's newest runs (``p_gateway``, ``p_limit``), through its (gateway, id) index."""
    return (
        select(
            r.gateway,
            r.outcome,
            IsoTime(r.started_at),
            IsoTime(r.finished_at),
            r.total_models,
            r.trigger,
            r.error,
            r.id,
            r.added,
            r.updated,
            r.removed,
        )
        .where(r.gateway == bindparam("p_gateway"))
        .order_by(r.id.desc())
        .limit(bindparam("p_limit"))
    )
