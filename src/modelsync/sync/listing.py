"""Fetch one gateway's whole listing (every page), hashing as it goes.

The hash covers each page's body and its ``Link`` header (Hub-style pagination lives there), so an
equal hash means the adapter would see exactly the same pages. When the first page alone already
hashes to the last listing's hash, the listing is identical and nothing is decoded at all.

The hash is XXH3-128, not SHA-256: it only tells "same bytes as last time" for bodies the gateway
itself chose, so collision resistance against an adversary buys nothing, and at ~60 GB/s it costs
0.02 ms on a 1.5 MB catalog where SHA-256 costs 0.75 ms (a third of an unchanged run).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import xxhash

from modelsync.errors import PayloadError
from modelsync.fetch import FetchResponse, Validators, rewrite_url
from modelsync.gateways.base import MAX_PAGES, GatewayAdapter, GatewayConfig, Page

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


class PageFetcher(Protocol):
    """What the runner needs of the HTTP layer (:class:`modelsync.fetch.Fetcher` is one)."""

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        validators: Validators | None = None,
    ) -> FetchResponse: ...


@dataclass(frozen=True, slots=True)
class Listing:
    """What a gateway answered: decoded pages, or the news that nothing changed."""

    body_hash: str
    status: int
    bytes: int
    validators: Validators
    not_modified: bool = False
    identical: bool = False
    """The bytes equal the last listing's (``pages`` is then empty: nothing was decoded)."""
    pages: list[Page] = field(default_factory=list)


def decode_page(response: FetchResponse) -> Any:
    """The JSON document of a response; an HTML error page or bad JSON is a PayloadError."""
    body = response.body
    content_type = response.headers.get("content-type", "")
    if "html" in content_type or body.lstrip()[:1] == b"<":
        match = _TITLE.search(body[:4096])
        title = match.group(1).decode("utf-8", "replace").strip() if match else ""
        shown = f" ({title})" if title else ""
        raise PayloadError(
            f"got an HTML page{shown} with status {response.status} instead of JSON "
            f"from {response.url}"
        )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"malformed JSON from {response.url}: {exc}") from None


HASH_PREFIX = "xxh3-128:"


def _feed(digest: xxhash.xxh3_128, response: FetchResponse) -> None:
    digest.update(len(response.body).to_bytes(8, "big"))
    digest.update(response.body)
    link = response.headers.get("link")
    if link:
        digest.update(b"\x00link:" + link.encode())


async def fetch_listing(
    fetcher: PageFetcher,
    adapter: GatewayAdapter,
    config: GatewayConfig,
    *,
    upstream: str | None,
    previous_hash: str | None,
    validators: Validators | None,
) -> Listing:
    """Every page of the gateway's list; short-circuits on 304 and on an identical first page."""
    request = adapter.first_request(config)
    digest = xxhash.xxh3_128()
    pages: list[Page] = []
    total = 0
    first: FetchResponse | None = None
    while True:
        response = await fetcher.get(
            rewrite_url(request.url, upstream, config.name),
            params=request.params,
            headers=request.headers,
            validators=validators if first is None else None,
        )
        if first is None:
            first = response
            if response.not_modified:
                return Listing(
                    body_hash=previous_hash or "",
                    status=response.status,
                    bytes=0,
                    validators=response.validators,
                    not_modified=True,
                )
        total += len(response.body)
        _feed(digest, response)
        if len(pages) == 0 and HASH_PREFIX + digest.hexdigest() == previous_hash:
            return Listing(
                body_hash=previous_hash,
                status=response.status,
                bytes=total,
                validators=response.validators,
                identical=True,
            )
        page = Page(decode_page(response), response.headers)
        pages.append(page)
        following = adapter.next_request(config, request, page)
        if following is None:
            break
        if len(pages) >= MAX_PAGES:
            raise PayloadError(f"more than {MAX_PAGES} pages: the pagination cursor loops")
        request = following
    body_hash = HASH_PREFIX + digest.hexdigest()
    return Listing(
        body_hash=body_hash,
        status=first.status,
        bytes=total,
        validators=first.validators,
        identical=body_hash == previous_hash,
        pages=pages,
    )
