"""A real local HTTP server that records every request and answers from a script.

``Recorder.script(path, [500, 200])`` makes the next requests to ``path`` answer 500, then
200 (the last status repeats); ``delay_s`` holds each answer (a slow API).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from conftest import serving


@dataclass(frozen=True, slots=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    base: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: dict[str, list[int]] = field(default_factory=dict)
    delay_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, path: str, statuses: list[int]) -> None:
        with self.lock:
            self.statuses[path] = list(statuses)

    def to(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def _status(self, path: str) -> int:
        with self.lock:
            queue = self.statuses.get(path)
            if not queue:
                return 200
            return queue.pop(0) if len(queue) > 1 else queue[0]


@contextmanager
def recording_server() -> Iterator[Recorder]:
    recorder = Recorder()

    async def record(request: Request) -> JSONResponse:
        body = await request.body()
        with recorder.lock:
            recorder.received.append(
                Received(request.method, request.url.path, dict(request.headers), body)
            )
        if recorder.delay_s:
            await asyncio.sleep(recorder.delay_s)
        status = recorder._status(request.url.path)
        return JSONResponse({"ok": status < 400}, status_code=status)

    app = Starlette(routes=[Route("/{path:path}", record, methods=["GET", "POST"])])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    with serving(server) as base:
        recorder.base = base
        yield recorder
