"""The simulator's admin API under ``/_admin`` (JSON in, JSON out).

- ``GET /_admin/state[?gateway=]``: per gateway, model count, removed ids, active faults,
  request count, ETag switch, seed source and mutation log.
- ``POST /_admin/mutate`` ``{"gateway", "op", "model_id"?, "factor"?, "name"?, "field"?,
  "value"?, "source"?}``: answers what changed.
- ``POST /_admin/fault`` ``{"gateway", "kind", "times"?, "retry_after"?, "seconds"?,
  "percent"?, "mib"?}``.
- ``DELETE /_admin/fault[?gateway=&kind=]``: clear faults (one gateway's, one kind's, or all).
- ``POST /_admin/reset[?gateway=]``: back to the seed.
- ``POST /_admin/etag`` ``{"gateway", "enabled": bool}``.

Bad input answers 400 (not a JSON object), 404 (unknown gateway or model) or 422 (a value that
does not fit), with ``{"error": "..."}``, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelsync.simulator.faults import FaultError, FaultKind, parse_fault
from modelsync.simulator.mutations import mutate
from modelsync.simulator.responses import json_response
from modelsync.simulator.state import AdminInputError, SimulatorState

Handler = Callable[[Request], Awaitable[Any]]


def admin_routes(state: SimulatorState) -> list[Route]:
    """The ``/_admin`` routes acting on ``state``."""

    async def get_state(request: Request) -> Any:
        name = request.query_params.get("gateway")
        if name is not None:
            return {"gateways": {name: state.gateway(name).describe()}}
        return {"gateways": state.describe()}

    async def post_mutate(request: Request) -> Any:
        return mutate(state, await _json_object(request))

    async def post_fault(request: Request) -> Any:
        payload = await _json_object(request)
        gateway = state.gateway(payload.get("gateway"))
        fault = parse_fault(payload, gateway=gateway.name)
        gateway.faults.append(fault)
        return {
            "gateway": gateway.name,
            "fault": fault.describe(),
            "faults": [item.describe() for item in gateway.faults],
        }

    async def delete_fault(request: Request) -> Any:
        name, kind = request.query_params.get("gateway"), request.query_params.get("kind")
        if kind is not None and kind not in set(FaultKind):
            raise AdminInputError(f"unknown fault kind {kind!r}")
        targets = [state.gateway(name)] if name else list(state.gateways.values())
        cleared = 0
        for gateway in targets:
            kept = [fault for fault in gateway.faults if kind and fault.kind != kind]
            cleared += len(gateway.faults) - len(kept)
            gateway.faults[:] = kept
        return {"cleared": cleared, "gateways": [gateway.name for gateway in targets]}

    async def post_reset(request: Request) -> Any:
        name = request.query_params.get("gateway")
        if name is None and await request.body():
            name = (await _json_object(request)).get("gateway")
        return {"reset": state.reset(name)}

    async def post_etag(request: Request) -> Any:
        payload = await _json_object(request)
        gateway = state.gateway(payload.get("gateway"))
        enabled = payload.get("enabled")
        if not isinstance(enabled, bool):
            raise AdminInputError(f"enabled must be true or false, got {enabled!r}")
        gateway.etag = enabled
        return {"gateway": gateway.name, "etag": enabled}

    return [
        Route("/_admin/state", _json_handler(get_state), methods=["GET"]),
        Route("/_admin/mutate", _json_handler(post_mutate), methods=["POST"]),
        Route("/_admin/fault", _json_handler(post_fault), methods=["POST"]),
        Route("/_admin/fault", _json_handler(delete_fault), methods=["DELETE"]),
        Route("/_admin/reset", _json_handler(post_reset), methods=["POST"]),
        Route("/_admin/etag", _json_handler(post_etag), methods=["POST"]),
    ]


def _json_handler(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return json_response(await handler(request))
        except (AdminInputError, FaultError) as exc:
            return json_response({"error": str(exc)}, exc.status)

    return endpoint


async def _json_object(request: Request) -> dict[str, Any]:
    body = await request.body()
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise AdminInputError(f"the body is not valid JSON: {exc}", status=400) from None
    if not isinstance(payload, dict):
        raise AdminInputError("the body must be a JSON object", status=400)
    return payload
