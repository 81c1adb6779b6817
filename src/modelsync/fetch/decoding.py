"""Bounded reading of a response body: decoded here, in steps, under a size limit.

httpx's own decoders inflate a whole network chunk at once, and 158 bytes of brotli are 100 MB of
zeros; so the raw stream is read with ``aiter_raw`` and gzip, deflate and brotli are inflated here
at most ~64 KiB of output per step. Reading stops (:class:`~modelsync.errors.BodyTooLarge`) as
soon as the raw or the decoded size passes the limit, and the rest is never read.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncGenerator, Iterator
from contextlib import aclosing
from typing import Protocol

import brotli  # type: ignore[import-untyped]  # the package ships no type information
import httpx

from modelsync.errors import BodyTooLarge, FetchError, TransientFetchError

_STEP = 64 * 1024
_EXCERPT_BYTES = 4096
_EXCERPT_CHARS = 200


class _Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def finish(self) -> None: ...


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data

    def finish(self) -> None:
        return


class _Zlib:
    """gzip (``wbits`` 31) or deflate (zlib-wrapped, falling back to raw as browsers do)."""

    def __init__(self, wbits: int) -> None:
        self._inflate = zlib.decompressobj(wbits)
        self._raw_fallback = wbits == zlib.MAX_WBITS
        self._seen = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._seen = self._seen or bool(data)
        while True:
            try:
                out = self._inflate.decompress(data, _STEP)
            except zlib.error:
                if not self._raw_fallback:
                    raise
                self._raw_fallback = False
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
                continue
            self._raw_fallback = False
            if out:
                yield out
            data = self._inflate.unconsumed_tail
            if not data and len(out) < _STEP:
                return

    def finish(self) -> None:
        if self._seen and not self._inflate.eof:
            raise EOFError("the compressed stream is truncated")


class _Brotli:
    def __init__(self) -> None:
        self._brotli = brotli.Decompressor()
        self._seen = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._seen = self._seen or bool(data)
        out: bytes = self._brotli.process(data, output_buffer_limit=_STEP)
        while out:
            yield out
            out = self._brotli.process(b"", output_buffer_limit=_STEP)

    def finish(self) -> None:
        if self._seen and not self._brotli.is_finished():
            raise EOFError("the compressed stream is truncated")


def _decoder(content_encoding: str) -> _Decoder | None:
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return _Identity()
    if codings in (["gzip"], ["x-gzip"]):
        return _Zlib(zlib.MAX_WBITS | 16)
    if codings == ["deflate"]:
        return _Zlib(zlib.MAX_WBITS)
    if codings == ["br"]:
        return _Brotli()
    return None


async def decoded_body(
    response: httpx.Response, url: str, limit: int
) -> AsyncGenerator[bytes, None]:
    """The decoded body in steps; BodyTooLarge once the raw or decoded size passes ``limit``."""
    status = response.status_code
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise BodyTooLarge(
            f"{url} announces {length} bytes, over the limit of {limit}", status=status
        )
    too_large = BodyTooLarge(f"the body of {url} passed the limit of {limit} bytes", status=status)
    if response.is_stream_consumed:
        # Built in memory (httpx.MockTransport answering ``Response(200, json=...)``): httpx has
        # already read and decoded it, and there is no raw stream left to read.
        if len(response.content) > limit:
            raise too_large
        yield response.content
        return
    encoding = response.headers.get("content-encoding", "")
    decoder = _decoder(encoding)
    if decoder is None:
        raise FetchError(f"{url} sent an unsupported Content-Encoding {encoding!r}", status=status)
    raw = size = 0
    try:
        async for chunk in response.aiter_raw():
            raw += len(chunk)
            if raw > limit:
                raise too_large
            for piece in decoder.feed(chunk):
                size += len(piece)
                if size > limit:
                    raise too_large
                yield piece
        decoder.finish()
    except (zlib.error, brotli.error, EOFError) as exc:
        raise TransientFetchError(
            f"could not decode the {encoding} body of {url}: {exc}", status=status
        ) from exc


async def body_excerpt(response: httpx.Response, url: str) -> str:
    """The start of an error body, one line, for the error message ('' when unreadable)."""
    pieces: list[bytes] = []
    size = 0
    try:
        async with aclosing(decoded_body(response, url, 1 << 62)) as body:
            async for piece in body:
                pieces.append(piece)
                size += len(piece)
                if size >= _EXCERPT_BYTES:
                    break
    except (httpx.HTTPError, FetchError):
        return ""
    text = " ".join(b"".join(pieces)[:_EXCERPT_BYTES].decode("utf-8", "replace").split())
    return text if len(text) <= _EXCERPT_CHARS else text[: _EXCERPT_CHARS - 1] + "…"


async def read_body(response: httpx.Response, url: str, limit: int) -> bytes:
    """The whole decoded body; BodyTooLarge as soon as it passes ``limit``."""
    async with aclosing(decoded_body(response, url, limit)) as body:
        return b"".join([piece async for piece in body])
