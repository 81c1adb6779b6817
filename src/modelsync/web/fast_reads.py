"""The read API's hot routes answered ahead of FastAPI's routing (issue 12 item 1).

An uncached ``GET /api/models/{id}`` is one indexed statement on the read lane and one
``orjson.dumps``; through FastAPI it also pays the walk over every route, the request's
dependency solving and a pydantic validation of each query parameter, which together cost more
than the read itself. The web app hands these requests here first (:meth:`serve`):

* ``/api/models/{id}``, ``/api/models``, ``/api/changes``, ``/api/sync/status`` (and its
  ``GET /api/sync/models`` alias), ``GET`` only;
* each query parameter is read by the route's own rules (the same bounds, the same text check);
  whatever this reader is unsure of (a parameter it does not know, one given twice, an empty
  value, a number or a boolean not spelled plainly, an unknown gateway or model, any error)
  goes to FastAPI instead, which answers it as before (a 404, a 422, a 503);
* the answer is built by the route's own builder (``api.*_builder``) through the response cache,
  so its bytes and headers are those of the route.

The routes stay as they are: they document the API (the OpenAPI schema is theirs) and answer
everything handed on.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from modelsync.cache.responses import Build
from modelsync.config import find_gateway
from modelsync.domain import ChangeKind
from modelsync.errors import ConfigError
from modelsync.limits import CHANGES_PAGE, MODELS_PAGE
from modelsync.store.base import ChangeSelection, ModelQuery
from modelsync.web import api
from modelsync.web.services import Services

MODELS = "/api/models"
MODEL_PREFIX = "/api/models/"
CHANGES = "/api/changes"
STATUS_PATHS = frozenset({"/api/sync/status", "/api/sync/models"})
OTHER_MODEL_ROUTES = frozenset({"unmatched"})
"""``/api/models/<this>`` paths of other routes (matched before the model's)."""


class HandOn(Exception):
    """This request is FastAPI's to answer."""


Params = dict[str, str]


def params_of(scope: Scope, known: frozenset[str]) -> Params:
    """The query's parameters as Starlette reads them; :class:`HandOn` for an unknown or
    repeated one, or an empty value."""
    query: bytes = scope.get("query_string", b"")
    if not query:
        return {}
    found: Params = {}
    for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if key not in known or key in found or not value:
            raise HandOn
        found[key] = value
    return found


def integer(params: Params, key: str, default: int | None, low: int, high: int) -> int | None:
    text = params.get(key)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 19):
        raise HandOn
    value = int(text)
    if not low <= value <= high:
        raise HandOn
    return value


def text(params: Params, key: str, max_length: int) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    if len(value) > max_length:
        raise HandOn
    try:
        return api.storable(value)
    except ValueError:
        raise HandOn from None


def boolean(params: Params, key: str) -> bool:
    value = params.get(key)
    if value is None or value == "false":
        return False
    if value == "true":
        return True
    raise HandOn


def gateway_name(services: Services, params: Params) -> str | None:
    wanted = params.get("gateway")
    if wanted is None:
        return None
    try:
        return find_gateway(services.runtime.gateways, wanted).name
    except ConfigError:
        raise HandOn from None


MODEL_KEYS = frozenset({"gateway", "provider", "q", "include_removed", "limit", "offset"})


def models(services: Services, scope: Scope) -> Build:
    params = params_of(scope, MODEL_KEYS)
    query = ModelQuery(
        gateway=gateway_name(services, params),
        provider=text(params, "provider", 200),
        q=text(params, "q", 200),
        include_removed=boolean(params, "include_removed"),
        limit=integer(params, "limit", 500, 1, MODELS_PAGE) or 1,
        offset=integer(params, "offset", 0, 0, api.MAX_SQL_INT) or 0,
    )
    return api.models_builder(services, query)


def offers(services: Services, scope: Scope) -> Build:
    model_id: str = scope["path"][len(MODEL_PREFIX) :]
    if not model_id or model_id in OTHER_MODEL_ROUTES or len(model_id) > 512:
        raise HandOn
    try:
        api.storable(model_id)
    except ValueError:
        raise HandOn from None
    return api.offers_builder(services, model_id)


CHANGE_KEYS = frozenset({"since", "gateway", "model", "run", "kind", "order", "limit"})
ORDERS = frozenset({"oldest", "newest"})
KINDS = frozenset(kind.value for kind in ChangeKind)


def changes(services: Services, scope: Scope) -> Build:
    params = params_of(scope, CHANGE_KEYS)
    order = params.get("order", "oldest")
    kind = params.get("kind")
    if order not in ORDERS or (kind is not None and kind not in KINDS):
        raise HandOn
    select_by = ChangeSelection(
        run_id=integer(params, "run", None, 1, api.MAX_SQL_INT),
        kind=kind,
        newest_first=order == "newest",
    )
    return api.changes_builder(
        services,
        since=integer(params, "since", None, 0, api.MAX_SQL_INT),
        gateway=gateway_name(services, params),
        model=text(params, "model", 512),
        limit=integer(params, "limit", 100, 1, CHANGES_PAGE) or 1,
        select_by=select_by,
    )


STATUS_KEYS = frozenset({"gateway"})


def sync_status(services: Services, scope: Scope) -> Build:
    return api.status_builder(services, gateway_name(services, params_of(scope, STATUS_KEYS)))


def route_of(path: str) -> Callable[[Services, Scope], Build] | None:
    if path == MODELS:
        return models
    if path.startswith(MODEL_PREFIX):
        return offers
    if path == CHANGES:
        return changes
    if path in STATUS_PATHS:
        return sync_status
    return None


async def serve(services: Services, scope: Scope, receive: Receive, send: Send) -> bool:
    """Answer a hot read and say so; ``False`` (nothing sent) hands it on to FastAPI."""
    if scope["method"] != "GET" or scope.get("root_path"):
        return False
    route = route_of(scope["path"])
    if route is None:
        return False
    try:
        build = route(services, scope)
        response = await services.cache.respond(Request(scope, receive), build)
    except Exception:  # noqa: BLE001 - FastAPI answers it again: its 404, 422, 500 or 503
        return False
    await response(scope, receive, send)
    return True
