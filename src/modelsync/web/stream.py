"""The live change stream (issue 8 item 4): ``GET /api/changes/stream`` (Server-Sent Events) and
``GET /api/changes/ws`` (WebSocket), the same events either way.

Events are JSON objects with a ``type``:

``change``
    One change of the log: ``seq``, ``kind``, ``gateway``, ``gateway_model_id``, ``id``,
    ``fields``, ``anomalies``, ``source``, ``catalog_version``, ``at`` (as ``GET /api/changes``
    lists it). Over SSE its ``id:`` is the ``seq``.
``missing``
    A run marked models of ``gateway`` missing: ``ids`` (canonical), ``catalog_version``.
``health``
    A gateway's health changed: ``status``, ``breaker``, ``previous_status``,
    ``previous_breaker``, ``catalog_version``.
``gone``
    The cursor asked for history the retention has pruned: ``oldest_seq`` is the oldest change
    still kept (everything before it is gone; reload the catalog, then follow from here). Over
    SSE its ``id:`` is ``oldest_seq - 1``, so a reconnect does not ask again.
``overflow``
    This subscriber fell more than ``MODELSYNC_FEED__SUBSCRIBER_BUFFER`` events behind and is
    disconnected; reconnect with the last ``seq`` it got.
``heartbeat`` (WebSocket only; SSE sends a ``: heartbeat`` comment)
    Nothing happened for ``MODELSYNC_FEED__HEARTBEAT_S`` seconds.

A cursor (SSE ``Last-Event-ID`` header or ``?since=``; WebSocket ``?since=``) first replays the
log after it, then goes live: the subscription to the feed is taken before the replay reads the
log, and live changes at or below the last replayed ``seq`` are skipped, so there is no gap and no
duplicate. Without a cursor the stream starts with the next change. ``?gateway=`` and ``?model=``
(a canonical id) filter every kind of event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import suppress
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Query, Request, WebSocket, status
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.websockets import WebSocketDisconnect, WebSocketState

from modelsync.bus.events import matches
from modelsync.web.api import MAX_SQL_INT, NOT_FOUND, Storable, gateway_or_404
from modelsync.web.deps import services_of
from modelsync.web.services import Services

router = APIRouter()

REPLAY_PAGE = 500
HEARTBEAT = {"type": "heartbeat"}


def gone_event(oldest_seq: int) -> dict[str, Any]:
    return {
        "type": "gone",
        "oldest_seq": oldest_seq,
        "detail": f"changes before seq {oldest_seq} are gone (retention); reload the catalog "
        f"from /api/models, then follow from seq {oldest_seq - 1}",
    }


def overflow_event(limit: int) -> dict[str, Any]:
    return {
        "type": "overflow",
        "detail": f"this subscriber fell more than {limit} events behind and is disconnected; "
        "reconnect with the last seq it received",
    }


async def change_events(
    services: Services, *, cursor: int | None, gateway: str | None, model: str | None
) -> AsyncGenerator[dict[str, Any]]:
    """The stream's events: the log after ``cursor`` (if given), then live ones; a heartbeat
    when nothing happened for the heartbeat interval. Ends after an ``overflow`` event."""
    feed, store = services.feed, services.runtime.store
    options = services.settings.feed
    with feed.subscribe(max_events=options.subscriber_buffer) as subscription:
        replayed = cursor if cursor is not None else subscription.start_seq
        if cursor is not None:
            oldest = await feed.oldest_seq()
            if (oldest is not None and cursor < oldest - 1) or (
                oldest is None and cursor < subscription.start_seq
            ):
                start = oldest if oldest is not None else subscription.start_seq + 1
                yield gone_event(start)
                replayed = max(replayed, start - 1)
            while True:
                page = await store.served_changes(
                    since=replayed, gateway=gateway, model=model, limit=REPLAY_PAGE
                )
                for row in page:
                    yield {"type": "change", **row}
                    replayed = row["seq"]
                if len(page) < REPLAY_PAGE:
                    break
        while True:
            try:
                batch = await subscription.next(options.heartbeat_s)
            except StopAsyncIteration:
                break
            if batch is None:
                yield HEARTBEAT
                continue
            for event in batch.events():
                if event["type"] == "change" and event["seq"] <= replayed:
                    continue
                if matches(event, gateway=gateway, model=model):
                    yield event
        if subscription.overflowed:
            yield overflow_event(options.subscriber_buffer)


def sse_event(event: dict[str, Any]) -> ServerSentEvent:
    kind = event["type"]
    if kind == "heartbeat":
        return ServerSentEvent(comment="heartbeat")
    data = orjson.dumps(event).decode()
    if kind == "change":
        return ServerSentEvent(data, event=kind, id=str(event["seq"]))
    if kind == "gone":
        return ServerSentEvent(data, event=kind, id=str(event["oldest_seq"] - 1))
    return ServerSentEvent(data, event=kind)


def parse_cursor(last_event_id: str | None, since: int | None) -> int | None:
    """``Last-Event-ID`` (wins) or ``since``; a header that is not a seq is a 400."""
    if last_event_id is None or not last_event_id.strip():
        return since
    text = last_event_id.strip()
    if not text.isascii() or not text.isdigit() or int(text) > MAX_SQL_INT:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            "Last-Event-ID must be a change seq (a whole number); reconnect without it to "
            "start live",
        )
    return int(text)


Since = Annotated[
    int | None,
    Query(ge=0, le=MAX_SQL_INT, description="Replay the changes after this seq first."),
]
Model = Annotated[str | None, Query(max_length=512, description="A canonical id."), Storable]


@router.get(
    "/api/changes/stream",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "the event stream"},
        400: {"description": "Last-Event-ID is not a seq"},
        **NOT_FOUND,
    },
    tags=["catalog"],
)
async def change_stream(
    request: Request,
    since: Since = None,
    gateway: str | None = None,
    model: Model = None,
) -> EventSourceResponse:
    """Live change events (Server-Sent Events); resumable with ``Last-Event-ID``."""
    services = services_of(request)
    name = gateway_or_404(services, gateway).name if gateway else None
    cursor = parse_cursor(request.headers.get("last-event-id"), since)
    events = change_events(services, cursor=cursor, gateway=name, model=model)

    async def stream() -> AsyncIterator[ServerSentEvent]:
        async for event in events:
            yield sse_event(event)

    return EventSourceResponse(
        stream(),
        send_timeout=services.settings.feed.send_timeout_s,
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


@router.websocket("/api/changes/ws")
async def change_socket(
    websocket: WebSocket,
    since: Since = None,
    gateway: str | None = None,
    model: Model = None,
) -> None:
    """The same events as JSON text messages; ``?since=`` replays first."""
    services: Services = websocket.app.state.services
    try:
        name = gateway_or_404(services, gateway).name if gateway else None
    except HTTPException as exc:
        await websocket.accept()  # then close with the reason: a refused handshake carries none
        await websocket.close(code=1008, reason=str(exc.detail)[:120])
        return
    await websocket.accept()
    events = change_events(services, cursor=since, gateway=name, model=model)
    options = services.settings.feed

    async def send() -> None:
        async for event in events:
            await asyncio.wait_for(
                websocket.send_text(orjson.dumps(event).decode()), options.send_timeout_s
            )
            if event["type"] == "overflow":
                await websocket.close(code=1013, reason="subscriber fell behind")
                return

    async def receive() -> None:
        with suppress(WebSocketDisconnect):
            while True:
                await websocket.receive_text()

    tasks = [asyncio.create_task(send()), asyncio.create_task(receive())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await events.aclose()
        if websocket.application_state is WebSocketState.CONNECTED:
            with suppress(RuntimeError, WebSocketDisconnect):
                await websocket.close()
        for result in results:
            if isinstance(result, Exception) and not isinstance(
                result, WebSocketDisconnect | OSError
            ):
                raise result
