"""PURE: the read side's SELECT statements, one per shape of the caller's filters.

A request's filters choose a *shape* (which filters are present, how ``q`` is searched); each
shape's statement is built once (``functools.cache``) with named ``p_*`` bind parameters, and the
values bind at execution, so SQLAlchemy's compiled cache, the read lane's compiled SQL and the
drivers' prepared statements all see a handful of statements. Every order a statement uses has an
index that ends with its ``ORDER BY`` columns (``schema.py``), so a page reads its rows in order
and stops at the limit; the tests pin that with ``EXPLAIN`` on both databases.

``q`` finds a case-insensitive substring of the canonical id, the name or the gateway's model id.
A query of three characters or more goes through the text index (``schema.SEARCH_TABLE``); a
shorter one, which no trigram index can serve, is a scan. Results are ranked the same way on
both databases (:func:`search_rank`): models whose canonical id holds ``q`` first, the earlier
it starts and the shorter the id the better (``llama`` puts ``meta/llama-3-8b`` before
``acme/codellama-34b``), then the catalog's order. (FTS5's ``bm25`` and ``word_similarity``
were measured: they rank trigrams, not ids, and cost more than the query.)

Each model statement comes in two column sets: ``DOMAIN`` (typed, for :class:`StoredModel`) and
``SERVED`` (raw text for :mod:`modelsync.store.served`, which writes the API's JSON from it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any

import orjson
from sqlalchemy import (
    FunctionElement,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    case,
    cast,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    true,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from modelsync.domain import Presence
from modelsync.store import statements
from modelsync.store.base import ModelQuery, ServedGateway
from modelsync.store.schema import (
    PG_SEARCH_TEXT,
    SEARCH_TABLE,
    changes,
    gateways,
    models,
    sync_runs,
    webhook_deliveries,
)

m = models.c
c = changes.c

MIN_INDEXED_QUERY = 3
"""The shortest ``q`` the trigram indexes can serve (a trigram is three characters)."""

CATALOG_VERSION = statements.CATALOG_VERSION.label("catalog_version")
"""Read in the same statement as the rows it stamps (one snapshot)."""


class IsoTime(FunctionElement[str]):
    """A stored time as text, as the served JSON writes it: PostgreSQL formats it as Python's
    ``datetime.isoformat()`` of the UTC value would (so asyncpg decodes a string, not a
    ``datetime``); SQLite's stored text passes as it is, for ``served.sqlite_time_text``."""

    type = Text()
    inherit_cache = True


@compiles(IsoTime, "sqlite")
def _iso_time_sqlite(element: IsoTime, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(IsoTime, "postgresql")
def _iso_time_postgresql(element: IsoTime, compiler: SQLCompiler, **kw: Any) -> str:
    # one to_char a time, its ``.000000`` dropped as isoformat drops it: a to_char costs about
    # 0.3 us, and three a time (a CASE on the microseconds) took 11.4 ms for three times of each
    # of 5,258 models, this 6.4 ms
    utc = f"({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC'"
    return f"replace(to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '') || '+00:00'"


LAST_SEEN = case(
    (
        and_(m.presence == Presence.PRESENT.value, gateways.c.last_success_at > m.last_seen_at),
        gateways.c.last_success_at,
    ),
    else_=m.last_seen_at,
).label("last_seen_at")
"""A present model was seen on its gateway's last success (rows are written only when they
change); a missing or removed one keeps the time it was last seen."""

fts = table(SEARCH_TABLE, column("rowid"), column(SEARCH_TABLE))
"""SQLite's FTS5 table (outside the metadata); its hidden column of the same name takes MATCH."""
PG_SEARCHED = literal_column(f"({PG_SEARCH_TEXT})", Text)


class Columns(Enum):
    DOMAIN = "domain"
    SERVED = "served"
    DOCUMENT = "document"
    """Changes only: each one's stored JSON (``changes.doc``), not its columns."""


MODEL_COLUMNS = {
    Columns.DOMAIN: (
        m.data,
        m.status,
        m.miss_count,
        m.first_seen_at,
        LAST_SEEN,
        m.updated_at,
        m.content_hash,
    ),
    Columns.SERVED: (
        CATALOG_VERSION,
        cast(m.data, Text),
        m.presence,
        m.status,
        IsoTime(m.first_seen_at),
        IsoTime(LAST_SEEN),
        IsoTime(m.updated_at),
        m.content_hash,
    ),
}
"""``SERVED``'s order is what :func:`modelsync.store.served.model_rows` unpacks."""


class Search(Enum):
    NONE = "none"
    INDEXED = "indexed"
    SCAN = "scan"


@dataclass(frozen=True, slots=True)
class ModelShape:
    """Which filters a :class:`ModelQuery` uses, on which database: one statement each."""

    dialect: str
    gateway: bool
    provider: bool
    search: Search
    include_removed: bool


def model_shape(query: ModelQuery, dialect: str) -> ModelShape:
    if not query.q:
        search = Search.NONE
    elif dialect == "postgresql" or len(query.q) >= MIN_INDEXED_QUERY:
        search = Search.INDEXED
    else:
        search = Search.SCAN
    return ModelShape(
        dialect,
        gateway=query.gateway is not None,
        provider=query.provider is not None,
        search=search,
        include_removed=query.include_removed,
    )


def escape_like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern whose escape character is a backslash."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def fts_phrase(text: str) -> str:
    """``text`` as one FTS5 string: every character literal (a trigram phrase is a substring)."""
    return '"' + text.replace('"', '""') + '"'


def model_params(query: ModelQuery) -> dict[str, Any]:
    """The bind parameters of the query's statement (unused ones are ignored)."""
    params: dict[str, Any] = {
        "p_gateway": query.gateway,
        "p_provider": query.provider,
        "p_limit": query.limit,
        "p_offset": query.offset,
    }
    if query.q:
        params |= {
            "p_lower_q": query.q.lower(),
            "p_pattern": "%" + escape_like(query.q) + "%",
            "p_phrase": fts_phrase(query.q),
        }
    return params


def search_rank(dialect: str) -> list[Any]:
    """The order of search results before the catalog's: an id holding ``q`` first, then where
    in the id it starts, then the id's length (canonical ids are lower case)."""
    lower_q = bindparam("p_lower_q", type_=Text)
    find = func.instr if dialect == "sqlite" else func.strpos
    start = find(m.model_id, lower_q)
    return [case((start == 0, 1), else_=0), start, func.length(m.model_id)]


@cache
def selected_models(shape: ModelShape, columns: Columns) -> Select[Any]:
    """Models matching the shape, ranked when searched, then by gateway and canonical id.

    Without ``q`` the rows come in order from an index and the read stops at the limit. With
    ``q`` every match is ranked, so the matches are sorted; they are ranked by row id alone
    (``row_number()`` over the search order) and only the page's rows are read with their data,
    in rank order: sorting the matches with their data instead (a model's JSON is about 1.3 KB)
    cost 1.15 ms for ``q=llama`` on the models.dev catalog (308 matches), this 0.78 ms."""
    if shape.search is not Search.NONE:
        return _searched_models(shape, columns)
    statement = _matching(
        select(*MODEL_COLUMNS[columns]).select_from(
            models.join(gateways, gateways.c.name == m.gateway)
        ),
        shape,
    )
    statement = statement.order_by(m.gateway, m.model_id, m.gateway_model_id)
    return statement.limit(bindparam("p_limit")).offset(bindparam("p_offset"))


def _searched_models(shape: ModelShape, columns: Columns) -> Select[Any]:
    """The searched page: matches ranked by row id, then the page's rows joined in rank order."""
    order = [*search_rank(shape.dialect), m.gateway, m.model_id, m.gateway_model_id]
    matches = select(m.row_id, func.row_number().over(order_by=order).label("place"))
    if shape.search is Search.INDEXED and shape.dialect == "sqlite":
        matches = matches.select_from(models.join(fts, fts.c.rowid == m.row_id)).where(
            fts.c[SEARCH_TABLE].op("MATCH")(bindparam("p_phrase"))
        )
    elif shape.search is Search.INDEXED:
        matches = matches.where(PG_SEARCHED.ilike(bindparam("p_pattern", type_=Text)))
    else:
        pattern = bindparam("p_pattern", type_=Text)
        searched = (m.model_id, m.name, m.gateway_model_id)
        matches = matches.where(or_(*(col.ilike(pattern, escape="\\") for col in searched)))
    ranked = _matching(matches, shape).subquery("ranked")
    place = ranked.c.place
    offset = bindparam("p_offset", type_=Integer)
    return (
        select(*MODEL_COLUMNS[columns])
        .select_from(
            ranked.join(models, m.row_id == ranked.c.row_id).join(
                gateways, gateways.c.name == m.gateway
            )
        )
        .where(place > offset, place <= offset + bindparam("p_limit", type_=Integer))
        .order_by(place)
    )


def _matching(statement: Select[Any], shape: ModelShape) -> Select[Any]:
    """``statement`` narrowed to the shape's filters (all but ``q``)."""
    if shape.gateway:
        statement = statement.where(m.gateway == bindparam("p_gateway"))
    if shape.provider:
        statement = statement.where(m.provider_slug == bindparam("p_provider"))
    if not shape.include_removed:
        statement = statement.where(m.presence != Presence.REMOVED.value)
    return statement


@cache
def offers(columns: Columns) -> Select[Any]:
    """Every gateway's row of canonical id ``p_model_id``, removed ones included."""
    return (
        select(*MODEL_COLUMNS[columns])
        .select_from(models.join(gateways, gateways.c.name == m.gateway))
        .where(m.model_id == bindparam("p_model_id"))
        .order_by(m.gateway, m.gateway_model_id)
    )


OFFER_INDEX = select(m.gateway, m.gateway_model_id, m.model_id, m.name).where(
    m.presence != Presence.REMOVED.value
)
"""Every current offer's ids and name, without its data (the unmatched report)."""


SERVED_CHANGE = (
    c.seq,
    c.gateway,
    c.gateway_model_id,
    c.model_id,
    c.kind,
    cast(c.fields, Text),
    cast(c.anomalies, Text),
    c.source,
    c.catalog_version,
    IsoTime(c.at),
)
"""What :func:`modelsync.store.served.change_rows` unpacks."""

DOCUMENT_CHANGE = (c.seq, c.catalog_version, c.doc)
"""What :func:`modelsync.store.served.change_documents` unpacks: a change's JSON is its seq and
its ``doc``, written with the row (NULL where the columns must be read instead)."""


OLDEST_CHANGE = select(func.min(c.seq))
"""The oldest retained change's seq (retention prunes from the oldest)."""

OLDEST_SEQ = OLDEST_CHANGE.scalar_subquery().label("oldest_seq")
"""The served change page's last column: the oldest retained seq, read in the same statement."""


@dataclass(frozen=True, slots=True)
class ChangeShape:
    since: bool
    gateway: bool
    model: bool
    run: bool = False
    kind: bool = False
    newest_first: bool = False


@cache
def changes_after(shape: ChangeShape, columns: Columns) -> Select[Any]:
    """Changes with ``seq > p_since``, oldest first (or newest first), ``p_limit`` of them;
    ``p_run`` is a run's id, ``p_kind`` a change kind."""
    chosen = {
        Columns.DOMAIN: (changes,),
        Columns.SERVED: (*SERVED_CHANGE, OLDEST_SEQ),
        Columns.DOCUMENT: (*DOCUMENT_CHANGE, OLDEST_SEQ),
    }[columns]
    order = c.seq.desc() if shape.newest_first else c.seq
    statement = select(*chosen).order_by(order).limit(bindparam("p_limit"))
    if shape.since:
        statement = statement.where(c.seq > bindparam("p_since"))
    if shape.gateway:
        statement = statement.where(c.gateway == bindparam("p_gateway"))
    if shape.model:
        statement = statement.where(c.model_id == bindparam("p_model"))
    if shape.run:
        statement = statement.where(c.run_id == bindparam("p_run"))
    if shape.kind:
        statement = statement.where(c.kind == bindparam("p_kind"))
    return statement


LAST_RUN = sync_runs.alias("last_run")
LAST_RUN_ID = (
    select(func.max(sync_runs.c.id))
    .where(sync_runs.c.gateway == gateways.c.name)
    .correlate(gateways)
    .scalar_subquery()
)
"""A gateway's newest run: one descent of ``ix_sync_runs_gateway_id`` per gateway."""


LATERAL_LAST_RUN = (
    select(sync_runs)
    .where(sync_runs.c.gateway == gateways.c.name)
    .order_by(sync_runs.c.id.desc())
    .limit(1)
    .lateral("last_run")
)
"""PostgreSQL's form of :data:`LAST_RUN`: a lateral join reads each gateway's newest run in
one backward descent of ``ix_sync_runs_gateway_id``, walking the gateways in name order (the
correlated ``max()`` above was planned as a hash join evaluating it twice per gateway, then a
sort: 28 ms for 1,000 gateways)."""


@cache
def gateway_keys(named: bool) -> Select[Any]:
    """The catalog version, then every gateway's (or the one named ``p_gateway``'s) name, row
    version and last run id, by name: what tells a status read which rows it has seen."""
    statement = select(
        CATALOG_VERSION, gateways.c.name, gateways.c.row_version, LAST_RUN_ID.label("run_id")
    ).order_by(gateways.c.name)
    if named:
        statement = statement.where(gateways.c.name == bindparam("p_gateway"))
    return statement


@cache
def gateway_statuses(dialect: str = "sqlite") -> Select[Any]:
    """The gateways named in ``p_names``, by name: their row version, then
    :class:`ServedGateway`'s fields, the last run's null when it never ran."""
    fields = ServedGateway._fields
    state = [gateways.c[name] for name in fields if not name.startswith("run_")]
    last = LATERAL_LAST_RUN if dialect == "postgresql" else LAST_RUN
    run = [last.c[name.removeprefix("run_")] for name in fields if name.startswith("run_")]
    joined = (
        gateways.outerjoin(LATERAL_LAST_RUN, true())
        if dialect == "postgresql"
        else gateways.outerjoin(LAST_RUN, LAST_RUN.c.id == LAST_RUN_ID)
    )
    return (
        select(gateways.c.row_version, *state, *run)
        .select_from(joined)
        .where(gateways.c.name.in_(_named(dialect)))
        .order_by(gateways.c.name)
    )


def _named(dialect: str) -> Any:
    """The names bound as ``p_names`` (:func:`names_param`), as the right side of an IN: the
    read lane binds each parameter once, so a list is a JSON array on SQLite and an array on
    PostgreSQL."""
    if dialect == "postgresql":
        return select(func.unnest(bindparam("p_names", type_=postgresql.ARRAY(Text))))
    return select(literal_column("value")).select_from(func.json_each(bindparam("p_names")))


def names_param(names: list[str], dialect: str) -> Any:
    """``names`` as :func:`_named` binds them."""
    return names if dialect == "postgresql" else orjson.dumps(names).decode()


def runs(*, gateway: str | None, limit: int) -> Select[Any]:
    """Runs newest first."""
    statement = select(sync_runs).order_by(sync_runs.c.id.desc()).limit(limit)
    if gateway is not None:
        statement = statement.where(sync_runs.c.gateway == gateway)
    return statement


def deliveries(*, limit: int) -> Select[Any]:
    """Webhook deliveries newest first."""
    w = webhook_deliveries.c
    return select(webhook_deliveries).order_by(w.received_at.desc(), w.id.desc()).limit(limit)
