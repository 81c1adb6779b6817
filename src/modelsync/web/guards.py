"""ASGI guards the application puts around every request: bounded bodies, host-free redirects.

* **Bodies.** A request declaring a ``Content-Length`` over the limit is answered 413 before
  anything is read; a streamed body is counted as it is read and refused (413) once it passes
  the limit. This holds for every route, admin ones included (their token is checked before
  the body is read). The webhook has its own limit (:mod:`modelsync.web.webhooks`).
* **Redirects.** Starlette's trailing-slash redirect builds an absolute URL from the request's
  ``Host`` header, which a client chooses (``Location: http://evil.example/...``). Every
  redirect's ``Location`` is cut to its path and query, which browsers resolve against the
  address they asked.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import HTTPException, status
from starlette.types import Message, Receive, Scope, Send


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``, when it declares a valid one."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def too_large(limit: int) -> dict[str, str]:
    return {"detail": f"request body over the limit of {limit} bytes"}


def bounded_receive(receive: Receive, limit: int) -> Receive:
    """``receive``, raising HTTPException(413) once the body read passes ``limit`` bytes."""
    received = 0

    async def guarded() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, too_large(limit)["detail"])
        return message

    return guarded


def relative_redirects(send: Send) -> Send:
    """``send``, with every redirect's absolute ``Location`` cut to its path and query."""

    async def guarded(message: Message) -> None:
        if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
            message["headers"] = [
                (name, _relative(value) if name.lower() == b"location" else value)
                for name, value in message.get("headers", ())
            ]
        await send(message)

    return guarded


def _relative(location: bytes) -> bytes:
    parts = urlsplit(location.decode("latin-1"))
    path = "/" + parts.path.lstrip("/")  # never ``//host``: that is absolute too
    return (path + (f"?{parts.query}" if parts.query else "")).encode("latin-1")


async def answer_json(send: Send, status_code: int, body: dict[str, Any]) -> None:
    """Send a whole JSON answer, as a bare ASGI exchange."""
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
