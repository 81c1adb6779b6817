"""The pages' reads (issue 10) on both databases: each filter and order of /models returns what
it says, with unknown prices last; a model's offers and history, the change feed by cursor and
kind, the rankings' capabilities and the status charts' runs."""

from __future__ import annotations

from decimal import Decimal

from modelsync.domain import Pricing
from modelsync.pages.reads import ModelFilters, PageReads
from modelsync.store.page_queries import Sort
from modelsync.store.sql import SqlStore

from .factories import T0, at, model, registration, sync


async def priced(store: SqlStore) -> PageReads:
    """groq: five models priced 0.5, 0.1, unknown, 0 and 0.3 per 1M prompt tokens; model 1
    takes images, model 2 has tools and 200k context."""
    await store.register_gateways([registration("groq")])
    prices = ["0.5", "0.1", None, "0", "0.3"]
    models = [
        model(
            "groq",
            n,
            pricing=Pricing(prompt=None if p is None else Decimal(p), completion=Decimal(1)),
            input_modalities=("image", "text") if n == 1 else ("text",),
            supported_parameters=("tools",) if n == 2 else ("max_tokens",),
            context_length=200_000 if n == 2 else 8192,
        )
        for n, p in enumerate(prices)
    ]
    await sync(store, "groq", models, now=at(0))
    return PageReads(store)


async def test_sorted_by_prompt_price_cheapest_first_unknown_last(store: SqlStore) -> None:
    """Free first, then by price, the unknown price after every known one."""
    reads = await priced(store)
    offers, more = await reads.models(ModelFilters(sort=Sort.PROMPT))
    assert [offer.prompt for offer in offers] == ["0", "0.1", "0.3", "0.5", None]
    assert not more


async def test_context_newest_modality_and_paging(store: SqlStore) -> None:
    """Largest context first; the image modality filter; a page of two with more after it."""
    reads = await priced(store)
    by_context, _ = await reads.models(ModelFilters(sort=Sort.CONTEXT))
    assert by_context[0].context_length == 200_000
    image, _ = await reads.models(ModelFilters(modality="image"))
    assert [offer.id for offer in image] == ["vendor1/model-1"]
    first, more = await reads.models(ModelFilters(per_page=2))
    second, _ = await reads.models(ModelFilters(per_page=2, page=2))
    assert more
    assert len(first) == len(second) == 2
    assert not {o.key for o in first} & {o.key for o in second}
    found, _ = await reads.models(ModelFilters(q="model-3", sort=Sort.NEWEST))
    assert [offer.id for offer in found] == ["vendor0/model-3"]


async def test_rankings_capabilities_need_a_known_price(store: SqlStore) -> None:
    """Cheapest per capability among known prompt prices; new this week by first seen."""
    reads = await priced(store)
    vision = await reads.ranked(capability="vision")
    assert [offer.id for offer in vision] == ["vendor1/model-1"]
    assert await reads.ranked(capability="tools") == []  # its price is unknown
    assert await reads.ranked(capability="long") == []
    text = await reads.ranked(capability="text")
    assert [offer.prompt for offer in text] == ["0", "0.1", "0.3", "0.5"]
    assert len(await reads.ranked(since=T0)) == 5


async def test_history_changes_and_runs(store: SqlStore) -> None:
    """A model's history newest first; the feed by cursor and kind; runs for the charts."""
    reads = await priced(store)
    history = await reads.changes(model="vendor1/model-1")
    assert [change.kind for change in history] == ["added"]
    feed = await reads.changes(limit=2)
    older = await reads.changes(before=feed[-1].seq, limit=10)
    assert feed[0].seq > feed[1].seq > older[0].seq
    assert await reads.changes(kind="removed") == []
    counts = await reads.change_counts(T0)
    assert counts["groq"]["added"] == 5
    points = await reads.run_points(T0)
    assert [point.total_models for point in points["groq"]] == [5]
    assert [run.outcome for run in await reads.gateway_runs("groq")] == ["changed"]
    offers = await reads.offers("vendor1/model-1")
    assert [offer.gateway for offer in offers] == ["groq"]
