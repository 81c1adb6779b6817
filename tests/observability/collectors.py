"""Local stand-ins for the services modelsync reports to, as real HTTP servers on port 0:
Sentry's envelope ingestion endpoint and PostHog's batch capture endpoint."""

from __future__ import annotations

import gzip
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import brotli
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conftest import serving

SENTRY_KEY = "f00dfacefeedbeef0123456789abcdef"


@dataclass
class Received:
    """Everything a stand-in was sent, in order (guarded by a lock: the server has a thread)."""

    bodies: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    status: int = 200

    def add(self, body: Any) -> None:
        with self.lock:
            self.bodies.append(body)

    def all(self) -> list[Any]:
        with self.lock:
            return list(self.bodies)


def parse_envelope(raw: bytes) -> list[tuple[dict[str, Any], Any]]:
    """An envelope's items as (item header, payload), JSON payloads parsed (Sentry's format:
    a header line, then per item a header line and a payload of ``length`` bytes or one line)."""
    items: list[tuple[dict[str, Any], Any]] = []
    cursor = raw.index(b"\n") + 1 if b"\n" in raw else len(raw)
    while cursor < len(raw):
        end = raw.find(b"\n", cursor)
        end = len(raw) if end < 0 else end
        line = raw[cursor:end]
        cursor = end + 1
        if not line.strip():
            continue
        header = orjson.loads(line)
        length = header.get("length")
        if length is None:
            stop = raw.find(b"\n", cursor)
            stop = len(raw) if stop < 0 else stop
        else:
            stop = cursor + length
        payload = raw[cursor:stop]
        cursor = stop + 1
        items.append((header, orjson.loads(payload) if payload.strip() else None))
    return items


def _decoded(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        return bytes(brotli.decompress(body))
    return body


@contextmanager
def sentry_server() -> Iterator[tuple[str, Received]]:
    """Sentry's ``POST /api/<project>/envelope/``; yields the DSN pointed at it and the items."""
    received = Received()

    async def envelope(request: Request) -> Response:
        raw = _decoded(await request.body(), request.headers.get("content-encoding", ""))
        for item in parse_envelope(raw):
            received.add(item)
        return JSONResponse({"id": "0" * 32})

    app = Starlette(routes=[Route("/api/{project}/envelope/", envelope, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    with serving(server) as base:
        host = base.removeprefix("http://")
        yield f"http://{SENTRY_KEY}@{host}/42", received


@contextmanager
def posthog_server() -> Iterator[tuple[str, Received]]:
    """PostHog's ``POST /batch/``; yields its base URL and the batch bodies it took."""
    received = Received()

    async def batch(request: Request) -> Response:
        if received.status != 200:
            return JSONResponse({"status": "unavailable"}, status_code=received.status)
        received.add(orjson.loads(await request.body()))
        return JSONResponse({"status": 1})

    app = Starlette(routes=[Route("/batch/", batch, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    with serving(server) as base:
        yield base, received
