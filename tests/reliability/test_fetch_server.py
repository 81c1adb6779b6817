"""The fetch policy on the wire: a real uvicorn server on loopback, a client from build_client."""

from __future__ import annotations

import asyncio
import functools
import gzip
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from email.utils import formatdate

import brotli  # type: ignore[import-untyped]
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from conftest import serving
from modelsync.errors import BodyTooLarge, RateLimited, TransientFetchError, UpstreamHTTPError
from modelsync.fetch import Fetcher, FetchPolicy, Validators, build_client

PAYLOAD = b'{"data": [{"id": "vendor/model-one", "context_length": 131072}]}' * 200
HITS: Counter[str] = Counter()
RECORDED: list[dict[str, str]] = []
"""The headers of every request that reached ``/record``."""
JSON = {"content-type": "application/json"}


async def br_body(request: Request) -> Response:
    return Response(brotli.compress(PAYLOAD), headers={**JSON, "content-encoding": "br"})


async def gzip_body(request: Request) -> Response:
    return Response(gzip.compress(PAYLOAD), headers={**JSON, "content-encoding": "gzip"})


@functools.cache
def bomb() -> bytes:
    """64 MiB of zeros as a few KB of brotli, compressed once per process (the module's server
    fixture calls it before the server starts), never inside a request."""
    data: bytes = brotli.compress(b"\0" * (64 * 1024 * 1024), quality=1)
    return data


async def br_bomb(request: Request) -> Response:
    assert bomb.cache_info().currsize == 1, "the bomb is compressed before the server starts"
    return Response(bomb(), headers={**JSON, "content-encoding": "br"})


SLOW_S = 3.0
"""How long ``/slow`` takes to answer: far past the impatient read timeout, however loaded."""


async def slow(request: Request) -> Response:
    HITS["slow"] += 1
    await asyncio.sleep(SLOW_S)
    return Response(b"{}", headers=JSON)


async def endless(request: Request) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(256):
            HITS["endless-chunks"] += 1
            yield b"x" * 65536

    return StreamingResponse(chunks(), headers=JSON)


async def limited(request: Request) -> Response:
    HITS["limited"] += 1
    return Response(b'{"error": "slow down"}', status_code=429, headers={"retry-after": "2"})


async def limited_until(request: Request) -> Response:
    until = formatdate(time.time() + 30, usegmt=True)
    return Response(b"", status_code=429, headers={"retry-after": until})


async def tagged(request: Request) -> Response:
    if request.headers.get("if-none-match") == '"v7"':
        return Response(status_code=304, headers={"etag": '"v7"'})
    return Response(PAYLOAD, headers={**JSON, "etag": '"v7"'})


async def echo(request: Request) -> JSONResponse:
    return JSONResponse(dict(request.headers))


async def moved(request: Request) -> RedirectResponse:
    return RedirectResponse("/gzip", status_code=307)


async def trickle(request: Request) -> StreamingResponse:
    async def drops() -> AsyncIterator[bytes]:
        for _ in range(100):  # a byte every 0.1 s: never idle for a read timeout, never done
            HITS["trickle"] += 1
            yield b" "
            await asyncio.sleep(0.1)

    return StreamingResponse(drops(), headers=JSON)


async def away(request: Request) -> RedirectResponse:
    """A redirect to the same server under another origin (``localhost`` for ``127.0.0.1``)."""
    port = request.url.port
    return RedirectResponse(f"http://localhost:{port}/record", status_code=302)


async def record(request: Request) -> JSONResponse:
    RECORDED.append(dict(request.headers))
    return JSONResponse({"data": [{"id": "someone-else/model"}]})


APP = Starlette(
    routes=[
        Route("/br", br_body),
        Route("/gzip", gzip_body),
        Route("/bomb", br_bomb),
        Route("/slow", slow),
        Route("/endless", endless),
        Route("/limited", limited),
        Route("/limited-until", limited_until),
        Route("/tagged", tagged),
        Route("/echo", echo),
        Route("/moved", moved),
        Route("/trickle", trickle),
        Route("/away", away),
        Route("/record", record),
    ]
)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """A uvicorn server for this module, in a thread, on a free loopback port."""
    bomb()  # compressed once, here: a request only sends the bytes
    config = uvicorn.Config(
        APP, http="h11", ws="none", lifespan="off", log_level="warning", access_log=False
    )
    with serving(uvicorn.Server(config)) as base:
        yield base


class Sleeps:
    """Records every backoff instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


READ_TIMEOUT_S = 0.3
"""The impatient fetcher's read timeout (``/slow`` answers ten times later)."""


@pytest.fixture
async def fetching() -> AsyncIterator[tuple[Fetcher, Sleeps]]:
    """A Fetcher on a real client with generous timeouts (a loaded machine never trips them);
    sleeps are recorded, not slept."""
    policy = FetchPolicy(
        connect_timeout_s=10.0, read_timeout_s=20.0, max_body_bytes=1024 * 1024, attempts=2
    )
    sleeps = Sleeps()
    async with build_client(policy) as client:
        yield Fetcher(client, policy, sleep=sleeps), sleeps


@pytest.fixture
async def impatient() -> AsyncIterator[tuple[Fetcher, Sleeps]]:
    """A Fetcher whose read timeout is short: only for the test of the read timeout."""
    policy = FetchPolicy(
        connect_timeout_s=10.0, read_timeout_s=READ_TIMEOUT_S, max_body_bytes=1024, attempts=2
    )
    sleeps = Sleeps()
    async with build_client(policy) as client:
        yield Fetcher(client, policy, sleep=sleeps), sleeps


@pytest.mark.parametrize("path", ["/br", "/gzip"])
async def test_compressed_bodies(
    base_url: str, fetching: tuple[Fetcher, Sleeps], path: str
) -> None:
    """brotli and gzip bodies from a real server are decoded."""
    fetcher, _ = fetching
    response = await fetcher.get(base_url + path)
    assert response.body == PAYLOAD
    assert response.headers["content-encoding"] == path.strip("/")
    assert int(response.headers["content-length"]) < len(PAYLOAD)


async def test_request_headers_on_the_wire(base_url: str, fetching: tuple[Fetcher, Sleeps]) -> None:
    """The server sees the policy's identity headers and the validators."""
    fetcher, _ = fetching
    response = await fetcher.get(base_url + "/echo", validators=Validators(etag='"v1"'))
    seen = httpx.Response(200, content=response.body).json()
    assert seen["accept-encoding"] == "gzip, deflate, br"
    assert (seen["user-agent"], seen["accept"]) == ("modelsync/0.1", "application/json")
    assert seen["if-none-match"] == '"v1"'


async def test_conditional_get(base_url: str, fetching: tuple[Fetcher, Sleeps]) -> None:
    """The ETag of a 200 sent back gets a 304 with no body."""
    fetcher, _ = fetching
    first = await fetcher.get(base_url + "/tagged")
    assert (first.status, first.validators.etag) == (200, '"v7"')
    second = await fetcher.get(base_url + "/tagged", validators=first.validators)
    assert (second.status, second.not_modified, second.body) == (304, True, b"")
    assert second.validators == first.validators


async def test_redirect(base_url: str, fetching: tuple[Fetcher, Sleeps]) -> None:
    """A 307 is followed to the body it points at."""
    fetcher, _ = fetching
    response = await fetcher.get(base_url + "/moved")
    assert (response.url, response.body) == (base_url + "/gzip", PAYLOAD)


async def test_read_timeout(base_url: str, impatient: tuple[Fetcher, Sleeps]) -> None:
    """A response slower than the read timeout is retried, then raised as a timeout."""
    fetcher, sleeps = impatient
    before = HITS["slow"]
    started = time.monotonic()
    with pytest.raises(TransientFetchError) as caught:
        await fetcher.get(base_url + "/slow")
    assert str(caught.value) == (
        f"timed out after {READ_TIMEOUT_S}s reading {base_url}/slow (gave up after 2 attempts)"
    )
    assert HITS["slow"] - before == 2
    assert len(sleeps.calls) == 1
    assert time.monotonic() - started < 2 * SLOW_S  # never waited for an answer


async def test_chunked_body_over_limit(base_url: str, fetching: tuple[Fetcher, Sleeps]) -> None:
    """A chunked body (no Content-Length) is cut off once it passes the limit."""
    fetcher, sleeps = fetching
    with pytest.raises(BodyTooLarge, match="passed the limit of 1048576 bytes"):
        await fetcher.get(base_url + "/endless")
    assert sleeps.calls == []


async def test_brotli_bomb(base_url: str, fetching: tuple[Fetcher, Sleeps]) -> None:
    """64 MB of zeros in a small brotli body is refused at the limit (the fetcher's timeouts are
    generous and the body was compressed before the server started: load never fails it)."""
    fetcher, _ = fetching
    with pytest.raises(BodyTooLarge):
        await fetcher.get(base_url + "/bomb")


async def test_rate_limited(base_url: str, fetching: tuple[Fetcher, Sleeps]) -> None:
    """A 429 waits its Retry-After seconds between tries, then raises RateLimited with it."""
    fetcher, sleeps = fetching
    before = HITS["limited"]
    with pytest.raises(RateLimited) as caught:
        await fetcher.get(base_url + "/limited")
    assert (caught.value.status, caught.value.retry_after) == (429, 2.0)
    assert "slow down" in str(caught.value)
    assert sleeps.calls == [2.0]
    assert HITS["limited"] - before == 2


async def test_rate_limited_until_a_date(base_url: str, fetching: tuple[Fetcher, Sleeps]) -> None:
    """A Retry-After date counts from the server's Date header."""
    fetcher, sleeps = fetching
    with pytest.raises(RateLimited):
        await fetcher.get(base_url + "/limited-until")
    assert len(sleeps.calls) == 1
    assert 28.0 <= sleeps.calls[0] <= 31.0


async def test_connection_refused(fetching: tuple[Fetcher, Sleeps]) -> None:
    """Nothing listening is a connection error, retried, then raised."""
    fetcher, sleeps = fetching
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransientFetchError, match=r"connection failed for http://127\.0\.0\.1:"):
        await fetcher.get(f"http://127.0.0.1:{port}/models")
    assert len(sleeps.calls) == 1


async def test_a_trickling_server_is_cut_off_by_the_attempt_deadline(base_url: str) -> None:
    """A byte every 0.1 s never trips the read timeout; the attempt's own deadline ends it."""
    policy = FetchPolicy(read_timeout_s=0.5, attempt_timeout_s=0.6, attempts=2)
    sleeps = Sleeps()
    async with build_client(policy) as client:
        fetcher = Fetcher(client, policy, sleep=sleeps)
        started = time.monotonic()
        with pytest.raises(TransientFetchError, match=r"within 0\.6s .*trickles"):
            await fetcher.get(base_url + "/trickle")
    assert time.monotonic() - started < 3.0
    assert len(sleeps.calls) == 1


async def test_retry_after_past_the_budget_is_not_waited_for(base_url: str) -> None:
    """A Retry-After longer than what is left of the run's budget ends the call at once."""
    policy = FetchPolicy(attempts=4, retry_after_cap_s=300)
    sleeps = Sleeps()
    async with build_client(policy) as client:
        fetcher = Fetcher(client, policy, sleep=sleeps)
        with pytest.raises(RateLimited, match="would pass the run's deadline") as caught:
            await fetcher.get(base_url + "/limited-until", budget_s=10)
    assert sleeps.calls == []
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 20


@pytest.mark.parametrize(
    "key_header", [{"Authorization": "Bearer sk-secret"}, {"x-goog-api-key": "sk-secret"}]
)
async def test_a_redirect_to_another_origin_is_refused_and_gets_no_key(
    base_url: str, fetching: tuple[Fetcher, Sleeps], key_header: dict[str, str]
) -> None:
    """The key never leaves the request's origin, and no other host's catalog comes back."""
    fetcher, _ = fetching
    before = len(RECORDED)
    with pytest.raises(UpstreamHTTPError, match="redirected to another origin"):
        await fetcher.get(base_url + "/away", headers=key_header)
    assert len(RECORDED) == before


async def test_a_redirect_to_an_allowed_origin_is_followed_without_the_key(
    base_url: str, fetching: tuple[Fetcher, Sleeps]
) -> None:
    """An origin the gateway allows is fetched, but the key headers stay home."""
    fetcher, _ = fetching
    port = base_url.rsplit(":", 1)[1]
    headers = {"Authorization": "Bearer sk-secret", "x-goog-api-key": "sk-secret"}
    response = await fetcher.get(
        base_url + "/away", headers=headers, foreign_origins={f"http://localhost:{port}"}
    )
    assert response.url == f"http://localhost:{port}/record"
    seen = RECORDED[-1]
    assert "authorization" not in seen
    assert "x-goog-api-key" not in seen
    assert seen["user-agent"] == "modelsync/0.1"
