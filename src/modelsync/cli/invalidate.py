"""``modelsync invalidate``: the two request forms of ``POST /api/cache/invalidate``, in this
process (the shared Redis cache and the purgers) or on a running server (``--remote``)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from rich.console import Console

from modelsync.cache.hub import Invalidations
from modelsync.cache.memory import MemoryTagManifest
from modelsync.cache.setup import cache_backend
from modelsync.cache.tags import InvalidateRequest
from modelsync.cli.remote import _request
from modelsync.clock import SystemClock
from modelsync.config import Settings, find_gateway, resolve_gateways
from modelsync.errors import ConfigError

LOCAL_NOTE = (
    "no shared cache here (MODELSYNC_REDIS_URL is unset): a server's in-process cache is "
    "reached with --remote URL"
)


def invalidate_request(
    *,
    tags: list[str],
    paths: list[str],
    type_: str | None,
    gateway: str | None,
    model_id: str | None,
) -> InvalidateRequest:
    """The request the options make; a bad combination is a one-line ConfigError."""
    body: dict[str, Any] = {}
    if type_ is not None:
        body["type"] = type_
    if gateway is not None:
        body["gateway"] = gateway
    if model_id is not None:
        body["model_id"] = model_id
    if tags:
        body["tags"] = tags
    if paths:
        body["paths"] = paths
    try:
        return InvalidateRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        hint = "give --tag/--path, or --type [--gateway] [--model-id]"
        raise ConfigError(f"{where + ': ' if where else ''}{message} ({hint})") from None


async def invalidate_here(settings: Settings, request: InvalidateRequest) -> dict[str, Any]:
    """Invalidate through this process's hub: the shared cache (Redis) and the purgers."""
    gateways = resolve_gateways(settings)
    if request.gateway is not None:
        name = find_gateway(gateways, request.gateway).name
        request = request.model_copy(update={"gateway": name})
    clock = SystemClock()
    manifest = MemoryTagManifest(clock)
    backend = cache_backend(settings, clock, manifest)
    try:
        hub = Invalidations(manifest, backend)
        report = await hub.apply(request.invalidation(list(gateways)), reason="cli")
    finally:
        await backend.aclose()
    answer = report.to_json()
    answer["cache"] = backend.name
    if backend.name != "redis":
        answer["note"] = LOCAL_NOTE
    return answer


def invalidate_remote(base_url: str, token: str | None, request: InvalidateRequest) -> Any:
    """``POST /api/cache/invalidate`` on a running server: its answer."""
    body = request.model_dump(exclude_none=True, exclude_defaults=True)
    return _request(base_url, token, "POST", "/api/cache/invalidate", json=body)


def render_invalidation(console: Console, answer: dict[str, Any]) -> None:
    """What was invalidated, for people."""
    invalidated = answer["invalidated"]
    tags, paths = invalidated["tags"], invalidated["paths"]
    purgers = ", ".join(answer.get("purgers") or []) or "none"
    console.print(
        f"invalidated [bold]{len(tags)}[/] tag(s), [bold]{len(paths)}[/] path(s); "
        f"purgers queued: {purgers}"
    )
    for tag in tags:
        console.print(f"  tag  {tag}", highlight=False)
    for path in paths:
        console.print(f"  path {path}", highlight=False)
    if answer.get("note"):
        console.print(f"[yellow]note:[/] {answer['note']}")
