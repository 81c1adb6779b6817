"""Prices a gateway serves beside its listing (fal's pricing API): fetched after the listing,
attached to the listing's entries before they are read.

The I/O shell around an adapter's pure price methods (:class:`PricedSeparately`). A failure of
the pricing API never fails the run: the adapter attaches the stored prices instead (prices stay
as they were) and the run's summary says so in one line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from modelsync.domain import CatalogEntry
from modelsync.errors import SyncError
from modelsync.fetch import rewrite_url
from modelsync.gateways.base import GatewayConfig, Page, PageRequest
from modelsync.sync.listing import Loads, Origins, PageFetcher, decode_page_with


@runtime_checkable
class PricedSeparately(Protocol):
    """An adapter whose gateway serves prices from another endpoint than its listing."""

    gateway: str

    def price_requests(self, config: GatewayConfig, pages: Sequence[Page]) -> list[PageRequest]:
        """The requests asking the prices of the listing's models (none: nothing to ask)."""
        ...

    def read_prices(self, documents: Sequence[Any]) -> dict[str, dict[str, Any]]:
        """The prices the answers give, by gateway model id (PayloadError when malformed)."""
        ...

    def attach_prices(self, pages: Sequence[Page], prices: Mapping[str, Any]) -> None:
        """Put each model's price on its listing entry."""
        ...

    def keep_prices(self, pages: Sequence[Page], previous: Mapping[str, CatalogEntry]) -> None:
        """Put each model's stored price on its listing entry (the pricing API failed)."""
        ...


async def attach_prices(
    fetcher: PageFetcher,
    adapter: PricedSeparately,
    config: GatewayConfig,
    pages: Sequence[Page],
    previous: Mapping[str, CatalogEntry],
    *,
    upstream: str | None,
    budget: Callable[[], float] | None,
    loads: Loads,
) -> str | None:
    """Fetch and attach the listing's prices; on failure attach the stored ones and return the
    warning for the run's summary (``None``: the prices are today's)."""
    requests = adapter.price_requests(config, pages)
    if not requests:
        return None
    if config.api_key is None and upstream is None:
        adapter.keep_prices(pages, previous)
        name = adapter.gateway
        return f"{name} prices need an API key (none configured); prices kept as they were"
    origins = Origins.of(config, upstream)
    documents: list[Any] = []
    try:
        for request in requests:
            response = await fetcher.get(
                rewrite_url(request.url, upstream, config.name),
                params=request.params,
                headers=origins.headers_for(request, config.name),
                budget_s=budget() if budget is not None else None,
            )
            documents.append(await decode_page_with(response, loads))
        prices = adapter.read_prices(documents)
    except SyncError as exc:
        adapter.keep_prices(pages, previous)
        return f"{adapter.gateway} pricing unavailable ({exc}); prices kept as they were"
    adapter.attach_prices(pages, prices)
    return None
