"""The HTTP protocol ``serve`` runs: uvicorn's httptools protocol, with the bounds it lacks.

uvicorn closes a keep-alive connection that stays idle between requests, but nothing bounds a
client that opens a connection and trickles its headers (1,500 such clients held 1,500 file
descriptors for good), nor the size of those headers, nor the number of connections. So:

* **Header time.** A request's headers must be complete within ``header_timeout_s`` of the
  connection opening, or of the request's first byte on a kept-alive connection; otherwise
  the connection is closed.
* **Header size.** Headers still incomplete after ``max_header_bytes`` close the connection.
* **Connections.** Past ``max_connections`` open connections, a new one is closed as it opens,
  so descriptors stay bounded whatever clients do.

Bodies are bounded in the application (:mod:`modelsync.web.guards`), where the route is known.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from modelsync.config import ServerSettings


class BoundedHttpProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` with a header deadline and size, and a connection cap."""

    header_timeout_s: ClassVar[float] = ServerSettings().header_timeout_s
    max_header_bytes: ClassVar[int] = ServerSettings().max_header_bytes
    max_connections: ClassVar[int] = ServerSettings().max_connections

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            transport.abort()
            return
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_done()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        awaiting = self._header_deadline is not None
        super().data_received(data)
        if awaiting and self._header_deadline is not None:  # the headers are still incomplete
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header_bytes:
                self._cut_off()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._await_headers()

    def on_headers_complete(self) -> None:
        self._headers_done()
        super().on_headers_complete()

    def _await_headers(self) -> None:
        if self._header_deadline is None:
            self._header_bytes = 0
            self._header_deadline = self.loop.call_later(self.header_timeout_s, self._cut_off)

    def _headers_done(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _cut_off(self) -> None:
        self._headers_done()
        if not self.transport.is_closing():
            self.transport.close()


def bounded_protocol(settings: ServerSettings) -> type[BoundedHttpProtocol]:
    """The protocol class with ``settings``' bounds (uvicorn builds one instance per connection)."""
    bounds = {
        "header_timeout_s": settings.header_timeout_s,
        "max_header_bytes": settings.max_header_bytes,
        "max_connections": settings.max_connections,
    }
    return type("ConfiguredHttpProtocol", (BoundedHttpProtocol,), bounds)
