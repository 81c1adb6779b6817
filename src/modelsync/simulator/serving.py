"""The list-models endpoint of a simulated gateway: key check, faults, rendering, ETag.

Order per request: count it; refuse a missing or malformed key (401); meet the next fault; render
the page in the gateway's shape; answer 304 when ``If-None-Match`` names the body's ETag.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from modelsync.gateways.base import GatewaySpec
from modelsync.simulator.config import SimulatorConfig
from modelsync.simulator.faults import (
    ENTRY_FAULTS,
    HTML_PAGE,
    Fault,
    FaultKind,
    apply_entry_fault,
    corrupt,
    huge_body,
)
from modelsync.simulator.pages import Listing, ListRequest, PageError, render
from modelsync.simulator.responses import etag_matches, gateway_error, key_problem, strong_etag
from modelsync.simulator.state import GatewayState

JSON = "application/json"

Endpoint = Callable[[Request], Awaitable[Response]]


def list_endpoint(
    gateway: GatewayState, spec: GatewaySpec, config: SimulatorConfig, *, minimal: bool = False
) -> Endpoint:
    """The endpoint serving ``gateway``'s list (``minimal``: xAI's plain ``/v1/models``)."""

    async def endpoint(request: Request) -> Response:
        gateway.requests += 1
        query = dict(request.query_params)
        problem = key_problem(gateway.name, spec.key_required, request.headers, query)
        if problem is not None:
            return gateway_error(gateway.name, 401, problem)
        fault = gateway.take_fault()
        if fault is not None and fault.kind is FaultKind.SLOW:
            await asyncio.sleep(fault.seconds)
            fault = None
        answer = ListAnswer(gateway, request, query, config, minimal=minimal)
        try:
            return answer.normal() if fault is None else answer.faulted(fault)
        except PageError as exc:
            return gateway_error(gateway.name, 400, str(exc))

    return endpoint


@dataclass(frozen=True, slots=True)
class ListAnswer:
    """Builds one list response (a PageError means a bad paging parameter)."""

    gateway: GatewayState
    request: Request
    query: dict[str, str]
    config: SimulatorConfig
    minimal: bool = False

    def normal(self) -> Response:
        """The catalog's page, from the cache of rendered bodies when it is there."""
        key = (self.minimal, str(self.request.url))
        cached = self.gateway.rendered.get(key)
        if cached is None:
            listing = self.listing(self.gateway.entries)
            cached = (orjson.dumps(listing.document()), listing.headers)
            self.gateway.remember(key, *cached)
        return self.with_etag(cached[0], dict(cached[1]))

    def faulted(self, fault: Fault) -> Response:
        """The answer as ``fault`` shapes it."""
        if fault.kind is FaultKind.HTTP_500:
            return gateway_error(self.gateway.name, 500, "Internal server error (simulated)")
        if fault.kind is FaultKind.HTTP_429:
            headers = {"retry-after": str(fault.retry_after)}
            message = "Rate limit reached (simulated)"
            return gateway_error(self.gateway.name, 429, message, headers)
        if fault.kind is FaultKind.HTML_ERROR:
            return Response(HTML_PAGE, 200, media_type="text/html; charset=utf-8")
        entries = self.gateway.entries
        if fault.kind in ENTRY_FAULTS:
            entries = apply_entry_fault(fault, self.gateway.name, entries)
        listing = self.listing(entries)
        headers = dict(listing.headers)
        if fault.kind is FaultKind.HUGE_BODY:
            return StreamingResponse(huge_body(listing, fault.mib), 200, headers, JSON)
        body = orjson.dumps(listing.document(list_as_object=fault.kind is FaultKind.DICT_FOR_LIST))
        if fault.kind in (FaultKind.MALFORMED_JSON, FaultKind.TRUNCATED_BODY):
            return Response(corrupt(fault, body), 200, headers, JSON)
        return self.with_etag(body, headers)

    def listing(self, entries: list[Any]) -> Listing:
        """The page of ``entries`` this request asks for."""
        return render(
            ListRequest(
                gateway=self.gateway.name,
                entries=entries,
                query=self.query,
                page_sizes=self.config.page_sizes,
                url=str(self.request.url),
                minimal=self.minimal,
                page_caps=self.config.page_caps,
            )
        )

    def with_etag(self, body: bytes, headers: dict[str, str]) -> Response:
        """200 with the body's ETag, or 304 when ``If-None-Match`` names it (ETags on)."""
        if self.gateway.etag:
            etag = strong_etag(body)
            headers["etag"] = etag
            if etag_matches(self.request.headers.get("if-none-match"), etag):
                return Response(status_code=304, headers=headers)
        return Response(body, 200, headers, JSON)
