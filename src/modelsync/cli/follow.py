"""``modelsync changes --follow``: print each change as it is committed, until Ctrl-C.

With ``--remote URL`` it tails the server's live stream (``GET /api/changes/stream``), resuming
with ``Last-Event-ID`` after a dropped connection, so nothing is missed or repeated; without, it
polls this database's change log (every ``MODELSYNC_FEED__POLL_S``). One line per event: a
human line, or with ``--json`` the event's JSON (``"type": "change"`` and the fields of ``GET
/api/changes``; from a server also ``missing``, ``health`` and ``gone``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from modelsync.config import Settings
from modelsync.errors import ModelsyncError
from modelsync.runtime import open_runtime

Emit = Callable[[dict[str, Any]], None]
RECONNECT_S = 1.0


def human_line(event: dict[str, Any]) -> str:
    """PURE: one event as a line of text."""
    kind = event.get("type", "change")
    if kind == "change":
        fields = "; ".join(
            f"{name}: {old} -> {new}" for name, (old, new) in (event.get("fields") or {}).items()
        )
        line = (
            f"{event['seq']:>8}  {str(event.get('at', ''))[11:19]}  {event['gateway']:<18} "
            f"{event['kind']:<9} {event['id']}"
        )
        return f"{line}  {fields[:160]}" if fields and event["kind"] != "added" else line
    if kind == "health":
        return (
            f"{'':>8}  health    {event['gateway']:<18} {event['previous_status']} -> "
            f"{event['status']} (breaker {event['breaker']})"
        )
    if kind == "missing":
        ids = ", ".join(event["ids"][:5]) + (" ..." if len(event["ids"]) > 5 else "")
        return f"{'':>8}  missing   {event['gateway']:<18} {ids}"
    return f"{'':>8}  {kind:<9} {event.get('detail', '')}"


def emitter(json_output: bool, write: Callable[[str], Any]) -> Emit:
    def emit(event: dict[str, Any]) -> None:
        write((orjson.dumps(event).decode() if json_output else human_line(event)) + "\n")

    return emit


def follow_remote(
    base_url: str,
    token: str | None,
    emit: Emit,
    *,
    since: int | None,
    gateway: str | None,
    model: str | None,
) -> None:
    """Tail ``GET /api/changes/stream`` until interrupted; reconnect with the last seq."""
    cursor = since
    connected_once = False
    params = {key: value for key, value in (("gateway", gateway), ("model", model)) if value}
    headers = {"accept": "text/event-stream"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    timeout = httpx.Timeout(10.0, read=None)
    url = base_url.rstrip("/") + "/api/changes/stream"
    while True:
        request_headers = dict(headers)
        if cursor is not None:
            request_headers["last-event-id"] = str(cursor)
        try:
            with (
                httpx.Client(timeout=timeout) as client,
                client.stream("GET", url, params=params, headers=request_headers) as response,
            ):
                if response.status_code != 200:
                    response.read()
                    detail = _detail(response)
                    raise ModelsyncError(f"{url} answered {response.status_code}: {detail}")
                connected_once = True
                for event, ident in _events(response):
                    emit(event)
                    if ident is not None:
                        cursor = int(ident)
        except httpx.HTTPError as exc:
            if not connected_once:
                raise ModelsyncError(f"cannot reach {base_url}: {type(exc).__name__}") from exc
        time.sleep(RECONNECT_S)  # the stream ended (a restart, a slow client cut off): resume


def _events(response: httpx.Response) -> Any:
    """``(event JSON, id)`` for every data event of an event stream."""
    data, ident = "", None
    for line in response.iter_lines():
        if line.startswith("data:"):
            data += line[5:].strip()
        elif line.startswith("id:"):
            ident = line[3:].strip() or None
        elif not line and data:
            yield orjson.loads(data), ident
            data, ident = "", None


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail"))
    except ValueError:
        return response.text[:200]


async def follow_local(
    settings: Settings, emit: Emit, *, since: int | None, gateway: str | None
) -> None:
    """Poll this database's change log until cancelled."""
    async with open_runtime(settings) as runtime:
        store = runtime.store
        cursor = since if since is not None else await _head(store)
        while True:
            records = await store.list_changes(since=cursor, gateway=gateway, limit=1000)
            for record in records:
                emit({"type": "change", **record.to_json()})
                cursor = record.seq
            if len(records) < 1000:
                await asyncio.sleep(settings.feed.poll_s)


async def _head(store: Any) -> int:
    """The newest seq of the log (0 when empty)."""
    from modelsync.bus.feed import FeedSource

    source = FeedSource(store, failing_after=1, breaker_threshold=1)
    return await source.last_seq()
