"""The pages' reads: each table of a page is one statement of ``store/page_queries.py`` (or the
JSON API's own), never a query per row or per gateway."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from modelsync.pages.charts import Point
from modelsync.pages.views import (
    Change,
    Offer,
    change_from_row,
    offer_from_row,
)
from modelsync.store import page_queries as pq
from modelsync.store import queries
from modelsync.store.base import ServedGateway, Store, duration_ms
from modelsync.store.served import time_text_for

CHANGES_PAGE = 50
HISTORY = 50
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
WINDOW_ROWS = 20_000
"""The most changes or runs a time window reads (a day of every gateway fits)."""


@dataclass(frozen=True, slots=True)
class ModelFilters:
    """``/models``' query string, validated."""

    q: str | None = None
    gateway: str | None = None
    provider: str | None = None
    modality: str | None = None
    sort: pq.Sort = pq.Sort.DEFAULT
    page: int = 1
    per_page: int = 100

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


class PageReads:
    """The reads of every page, on one store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._dialect = store.dialect
        self._time_text = time_text_for(self._dialect)

    async def _rows(self, statement: Any, params: dict[str, Any], action: str) -> list[Any]:
        return await self._store.read_rows(statement, params, action=action)

    async def models(self, filters: ModelFilters) -> tuple[list[Offer], bool]:
        """A page of offers, and whether another page follows (one row more is read)."""
        search = bool(filters.q)
        shape = pq.PageShape(
            self._dialect,
            gateway=filters.gateway is not None,
            provider=filters.provider is not None,
            modality=filters.modality is not None,
            search=search,
            sort=filters.sort,
        )
        params: dict[str, Any] = {
            "p_gateway": filters.gateway,
            "p_provider": filters.provider,
            "p_modality": filters.modality,
            "p_limit": filters.per_page + 1,
            "p_offset": filters.offset,
        }
        if filters.q:
            params |= {
                "p_lower_q": filters.q.lower(),
                "p_pattern": "%" + queries.escape_like(filters.q) + "%",
                "p_phrase": queries.fts_phrase(filters.q),
            }
        if (
            search
            and self._dialect == "sqlite"
            and len(filters.q or "") < queries.MIN_INDEXED_QUERY
        ):
            return await self._short_search(filters)
        found = await self._rows(pq.page_models(shape), params, "read models")
        offers = [offer_from_row(row, self._time_text) for row in found]
        return offers[: filters.per_page], len(offers) > filters.per_page

    async def _short_search(self, filters: ModelFilters) -> tuple[list[Offer], bool]:
        """A ``q`` of one or two characters on SQLite (no trigram): the API's scan."""
        from modelsync.store.base import ModelQuery  # noqa: PLC0415 - the rare path only

        query = ModelQuery(
            gateway=filters.gateway,
            provider=filters.provider,
            q=filters.q,
            limit=filters.per_page + 1,
            offset=filters.offset,
        )
        shape = queries.model_shape(query, self._dialect)
        statement = queries.selected_models(shape, queries.Columns.SERVED)
        found = await self._rows(statement, queries.model_params(query), "read models")
        offers = [offer_from_row(row, self._time_text) for row in found]
        return offers[: filters.per_page], len(offers) > filters.per_page

    async def offers(self, model_id: str) -> list[Offer]:
        """Every gateway's offer of one canonical id (removed ones included)."""
        statement = queries.offers(queries.Columns.SERVED)
        found = await self._rows(statement, {"p_model_id": model_id}, "read a model")
        return [offer_from_row(row, self._time_text) for row in found]

    async def changes(
        self,
        *,
        before: int | None = None,
        gateway: str | None = None,
        model: str | None = None,
        kind: str | None = None,
        limit: int = CHANGES_PAGE,
    ) -> list[Change]:
        """Changes newest first, before the cursor ``before`` (a seq)."""
        shape = pq.ChangePageShape(
            before=before is not None,
            gateway=gateway is not None,
            model=model is not None,
            kind=kind is not None,
        )
        params = {
            "p_before": before,
            "p_gateway": gateway,
            "p_model": model,
            "p_kind": kind,
            "p_limit": limit,
        }
        found = await self._rows(pq.recent_changes(shape), params, "list changes")
        return [change_from_row(row, self._time_text) for row in found]

    async def changes_since(self, since: datetime) -> list[Change]:
        found = await self._rows(
            pq.CHANGES_SINCE, {"p_since": since, "p_limit": WINDOW_ROWS}, "list changes"
        )
        return [change_from_row(row, self._time_text) for row in found]

    async def change_counts(self, since: datetime) -> dict[str, Counter[str]]:
        """Per gateway, how many changes of each kind since ``since``."""
        found = await self._rows(
            pq.CHANGE_KINDS_SINCE, {"p_since": since, "p_limit": WINDOW_ROWS}, "count changes"
        )
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for gateway, kind in found:
            counts[gateway][kind] += 1
        return counts

    async def ranked(
        self, *, capability: str | None = None, since: datetime | None = None, limit: int = 10
    ) -> list[Offer]:
        """The cheapest offers with a capability, or the newest since a time."""
        sort = pq.Sort.NEWEST if since is not None else pq.Sort.PROMPT
        shape = pq.PageShape(
            self._dialect, sort=sort, capability=capability, since=since is not None
        )
        params = {"p_since": since, "p_limit": limit, "p_offset": 0} | pq.CAPABILITY_PARAMS
        found = await self._rows(pq.page_models(shape), params, "rank models")
        return [offer_from_row(row, self._time_text) for row in found]

    async def run_points(self, since: datetime) -> dict[str, list[RunPoint]]:
        """Every run that finished since ``since``, per gateway, oldest first."""
        found = await self._rows(
            pq.RUN_POINTS, {"p_since": since, "p_limit": WINDOW_ROWS}, "read runs"
        )
        points: dict[str, list[RunPoint]] = defaultdict(list)
        for row in found:
            point = self._run(row)
            points[point.gateway].append(point)
        return points

    async def gateway_runs(self, gateway: str, limit: int = 20) -> list[RunPoint]:
        found = await self._rows(
            pq.gateway_runs(), {"p_gateway": gateway, "p_limit": limit}, "read runs"
        )
        return [self._run(row) for row in found]

    def _run(self, row: Sequence[Any]) -> RunPoint:
        gateway, outcome, started, finished, total, trigger, error, run_id = row[:8]
        started_at = datetime.fromisoformat(self._time_text(started))
        finished_at = datetime.fromisoformat(self._time_text(finished))
        counts = tuple(row[8:11]) if len(row) > 8 else (0, 0, 0)
        return RunPoint(
            id=run_id,
            gateway=gateway,
            outcome=outcome,
            trigger=trigger,
            started_at=started_at,
            finished_at=finished_at,
            total_models=total,
            error=error,
            added=counts[0],
            updated=counts[1],
            removed=counts[2],
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RunPoint:
    id: int
    gateway: str
    outcome: str
    trigger: str
    started_at: datetime
    finished_at: datetime
    total_models: int
    error: str | None
    added: int = 0
    updated: int = 0
    removed: int = 0

    @property
    def failed(self) -> bool:
        return self.outcome in ("failed", "rejected")

    @property
    def duration_ms(self) -> int:
        return duration_ms(self.started_at, self.finished_at)

    def duration_point(self) -> Point:
        return Point(self.finished_at, self.duration_ms, failed=self.failed)

    def count_point(self) -> Point:
        return Point(self.finished_at, self.total_models, failed=self.failed)


def gateway_names(statuses: Sequence[ServedGateway]) -> list[str]:
    return [gateway.name for gateway in statuses]
