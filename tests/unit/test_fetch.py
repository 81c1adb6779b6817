"""The fetch policy on httpx.MockTransport: conditional GET, decoding, limits, retries, errors."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime

import brotli  # type: ignore[import-untyped]
import httpx
import pytest
from structlog.testing import capture_logs

from modelsync.config import HttpSettings
from modelsync.errors import (
    BodyTooLarge,
    FetchError,
    RateLimited,
    TransientFetchError,
    UpstreamHTTPError,
)
from modelsync.fetch import (
    Fetcher,
    FetchPolicy,
    Validators,
    build_client,
    redact_url,
    retry_after_seconds,
    retry_delay,
    rewrite_url,
    status_error,
)

URL = "https://api.example.com/v1/models"
NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
POLICY = FetchPolicy(attempts=4, backoff_base_s=0.5, backoff_cap_s=3.0, retry_after_cap_s=60.0)

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


class Sleeps:
    """Records every backoff instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class Setup:
    """A Fetcher on a MockTransport, with the requests it saw and the sleeps it asked for."""

    def __init__(self, client: httpx.AsyncClient, fetcher: Fetcher, sleeps: Sleeps) -> None:
        self.client = client
        self.fetcher = fetcher
        self.sleeps = sleeps
        self.requests: list[httpx.Request] = []


MakeSetup = Callable[..., Setup]


@pytest.fixture
async def make() -> AsyncIterator[MakeSetup]:
    """A factory of Fetchers on MockTransports; their clients are closed after the test."""
    setups: list[Setup] = []

    def factory(
        handler: Handler, policy: FetchPolicy = POLICY, draw: float = 0.5, **kwargs: object
    ) -> Setup:
        async def recording(request: httpx.Request) -> httpx.Response:
            setup.requests.append(request)
            answer = handler(request)
            return await answer if isinstance(answer, Awaitable) else answer

        client = build_client(policy, transport=httpx.MockTransport(recording))
        sleeps = Sleeps()
        fetcher = Fetcher(client, policy, sleep=sleeps, random=lambda: draw, now=lambda: NOW)
        setup = Setup(client, fetcher, sleeps)
        setups.append(setup)
        return setup

    yield factory
    for setup in setups:
        await setup.client.aclose()


def replies(*responses: httpx.Response) -> Handler:
    """A handler answering with the given responses in turn (the last one repeats)."""
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler


async def _chunks(body: bytes, step: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), step):
        yield body[start : start + step]


def streamed(
    body: bytes, headers: dict[str, str] | None = None, status: int = 200, step: int = 1024
) -> Handler:
    """A handler answering each request with ``body`` streamed in chunks, as off the wire."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=_chunks(body, step), headers=headers)

    return handler


def raises(exc_type: type[httpx.RequestError]) -> Handler:
    """A handler that fails every request with the given httpx exception."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("boom", request=request)

    return handler


# --- pure rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "upstream", "expected"),
    [
        (URL, None, URL),
        (URL, "", URL),
        ("https://api.host/some/path?q=1", "http://sim:8080", "http://sim:8080/g/some/path?q=1"),
        ("https://api.host/some/path?q=1", "http://sim:8080/", "http://sim:8080/g/some/path?q=1"),
        ("https://api.host/some/path", "http://sim:8080//", "http://sim:8080/g/some/path"),
        ("https://api.host/a?x=1&y=2", "http://sim:8080/base/", "http://sim:8080/base/g/a?x=1&y=2"),
        ("https://api.host", "http://sim:8080", "http://sim:8080/g"),
        ("https://api.host/", "http://sim:8080", "http://sim:8080/g/"),
        ("https://api.host/p#frag", "http://sim:8080", "http://sim:8080/g/p"),
        (
            "http://sim:8080/g/some/path?cursor=2",
            "http://sim:8080",
            "http://sim:8080/g/some/path?cursor=2",
        ),
        ("http://sim:8080/g/some/path", "http://sim:8080/", "http://sim:8080/g/some/path"),
        ("http://sim:8080?x=1", "http://sim:8080", "http://sim:8080?x=1"),
        ("http://sim:80801/x", "http://sim:8080", "http://sim:8080/g/x"),
        ("https://api.host/v1", "sim:8080", "http://sim:8080/g/v1"),
    ],
)
def test_rewrite_url(url: str, upstream: str | None, expected: str) -> None:
    """MODELSYNC_UPSTREAM routes a gateway URL under /{gateway}/ and leaves routed URLs alone."""
    assert rewrite_url(url, upstream, "g") == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (URL, URL),
        ("https://h/models?key=SECRET", "https://h/models?key=***"),
        ("https://h/m?pageSize=100&key=SECRET", "https://h/m?pageSize=100&key=***"),
        ("https://h/m?API_KEY=s&Token=t&x=1", "https://h/m?API_KEY=***&Token=***&x=1"),
        ("https://user:pw@h/m", "https://***@h/m"),
        ("https://h/m?cursor=a%2Fb", "https://h/m?cursor=a%2Fb"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    """Secret-looking query values and userinfo are masked; other URLs are left verbatim."""
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    ("value", "date", "expected"),
    [
        (None, None, None),
        ("", None, None),
        ("  ", None, None),
        ("7", None, 7.0),
        (" 120 ", None, 120.0),
        ("1.5", None, 1.5),
        ("0", None, 0.0),
        ("-3", None, 0.0),
        ("inf", None, None),
        ("nan", None, None),
        ("soon", None, None),
        ("Thu, 01 Jan 2026 12:00:30 GMT", None, 30.0),
        ("Thu, 01 Jan 2026 12:00:30 GMT", "Thu, 01 Jan 2026 12:00:20 GMT", 10.0),
        ("Thu, 01 Jan 2026 12:00:30 GMT", "not a date", 30.0),
        ("Thu, 01 Jan 2026 11:59:00 GMT", None, 0.0),
        ("Thu, 01 Jan 2026 12:01:00 -0000", None, 60.0),
    ],
)
def test_retry_after_seconds(value: str | None, date: str | None, expected: float | None) -> None:
    """Retry-After as seconds or an HTTP date (counted from the Date header, else now)."""
    assert retry_after_seconds(value, date=date, now=NOW) == expected


@pytest.mark.parametrize(
    ("failures", "retry_after", "draw", "expected"),
    [
        (1, None, 0.0, 0.0),
        (1, None, 0.5, 0.25),
        (1, None, 0.999, 0.4995),
        (2, None, 1.0, 1.0),
        (3, None, 1.0, 2.0),
        (4, None, 1.0, 3.0),
        (9, None, 0.5, 1.5),
        (1, 7.0, 0.5, 7.0),
        (3, 0.0, 0.9, 0.0),
        (1, 600.0, 0.5, 60.0),
    ],
)
def test_retry_delay(
    failures: int, retry_after: float | None, draw: float, expected: float
) -> None:
    """Full jitter under an exponential cap, or the server's Retry-After capped."""
    assert retry_delay(POLICY, failures, retry_after, draw) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("status", "headers", "kind", "retry_after"),
    [
        (429, {"retry-after": "5"}, RateLimited, 5.0),
        (429, {}, RateLimited, None),
        (503, {"retry-after": "9"}, TransientFetchError, 9.0),
        (500, {"retry-after": "9"}, TransientFetchError, None),
        (502, {}, TransientFetchError, None),
        (408, {}, TransientFetchError, None),
        (404, {"retry-after": "9"}, UpstreamHTTPError, None),
        (401, {}, UpstreamHTTPError, None),
        (302, {}, UpstreamHTTPError, None),
    ],
)
def test_status_error(
    status: int, headers: dict[str, str], kind: type[FetchError], retry_after: float | None
) -> None:
    """Each status maps to its error class; only 429 and 503 carry Retry-After."""
    error = status_error(status, URL, headers, "nope", NOW)
    assert type(error) is kind
    assert error.status == status
    assert str(error) == f"HTTP {status} from {URL}: nope"
    assert getattr(error, "retry_after", None) == retry_after


def test_policy_from_settings() -> None:
    """Every HttpSettings field carries over to the policy."""
    http = HttpSettings(
        connect_timeout_s=1,
        read_timeout_s=2,
        max_body_bytes=3,
        attempts=5,
        backoff_base_s=0.1,
        backoff_cap_s=7,
        retry_after_cap_s=8,
        attempt_timeout_s=9,
        user_agent="ua/1",
    )
    assert FetchPolicy.from_settings(http) == FetchPolicy(
        1, 2, 3, 5, 0.1, 7, 8, 9, user_agent="ua/1"
    )


async def test_build_client_defaults() -> None:
    """The shared client carries the policy's timeouts, redirects and identity headers."""
    async with build_client(FetchPolicy(connect_timeout_s=2, read_timeout_s=9)) as client:
        assert client.timeout == httpx.Timeout(connect=2, read=9, write=9, pool=9)
        assert client.follow_redirects is True
        assert client.headers["user-agent"] == "modelsync/0.1"
        assert client.headers["accept"] == "application/json"
        assert client.headers["accept-encoding"] == "gzip, deflate, br"


# --- successful answers -------------------------------------------------------------------------


async def test_ok_response(make: MakeSetup) -> None:
    """A 200 comes back decoded with lower-case headers, params merged and identity headers sent."""
    ticks = iter([10.0, 10.25])
    setup = make(replies(httpx.Response(200, json={"data": []}, headers={"ETag": '"v1"'})))
    setup.fetcher = Fetcher(setup.client, POLICY, sleep=setup.sleeps, monotonic=lambda: next(ticks))
    response = await setup.fetcher.get(
        URL + "?a=1", params={"b": "2"}, headers={"Authorization": "Bearer k"}
    )
    assert (response.status, response.body, response.not_modified) == (200, b'{"data":[]}', False)
    assert (response.attempts, response.elapsed_s, response.url) == (1, 0.25, URL + "?a=1&b=2")
    assert response.headers["etag"] == '"v1"'
    assert response.validators == Validators(etag='"v1"')
    sent = setup.requests[0].headers
    assert sent["authorization"] == "Bearer k"
    assert sent["accept-encoding"] == "gzip, deflate, br"
    assert (sent["user-agent"], sent["accept"]) == ("modelsync/0.1", "application/json")
    assert "if-none-match" not in sent
    assert setup.sleeps.calls == []


async def test_identity_headers_on_a_foreign_client() -> None:
    """A client not built by build_client still gets the policy's identity headers."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"{}")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        policy = FetchPolicy(user_agent="custom/2")
        await Fetcher(client, policy).get(URL, headers={"Accept-Encoding": "zstd"})
    assert seen[0].headers["user-agent"] == "custom/2"
    assert seen[0].headers["accept-encoding"] == "gzip, deflate, br"


@pytest.mark.parametrize(
    ("validators", "answer_headers", "expected"),
    [
        (Validators('"v1"', None), {}, Validators('"v1"', None)),
        (
            Validators(None, "Wed, 21 Oct 2015 07:28:00 GMT"),
            {},
            Validators(None, "Wed, 21 Oct 2015 07:28:00 GMT"),
        ),
        (
            Validators('W/"v1"', "Wed, 21 Oct 2015 07:28:00 GMT"),
            {"ETag": '"v2"'},
            Validators('"v2"', "Wed, 21 Oct 2015 07:28:00 GMT"),
        ),
    ],
)
async def test_not_modified(
    make: MakeSetup, validators: Validators, answer_headers: dict[str, str], expected: Validators
) -> None:
    """Validators go out as If-None-Match/If-Modified-Since; a 304 keeps them for the next GET."""
    setup = make(replies(httpx.Response(304, headers=answer_headers)))
    response = await setup.fetcher.get(URL, validators=validators)
    assert (response.status, response.not_modified, response.body) == (304, True, b"")
    assert response.validators == expected
    sent = setup.requests[0].headers
    assert sent.get("if-none-match") == validators.etag
    assert sent.get("if-modified-since") == validators.last_modified


PAYLOAD = b'{"data": [{"id": "m1", "name": "Model one"}]}' * 50


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "body", "expected"),
    [
        (None, PAYLOAD, PAYLOAD),
        ("identity", PAYLOAD, PAYLOAD),
        ("gzip", gzip.compress(PAYLOAD), PAYLOAD),
        ("x-gzip", gzip.compress(PAYLOAD), PAYLOAD),
        ("GZIP", gzip.compress(PAYLOAD), PAYLOAD),
        ("br", brotli.compress(PAYLOAD), PAYLOAD),
        ("deflate", zlib.compress(PAYLOAD), PAYLOAD),
        ("deflate", _raw_deflate(PAYLOAD), PAYLOAD),
        ("gzip", gzip.compress(b""), b""),
        ("br", brotli.compress(b""), b""),
        ("gzip", b"", b""),
    ],
)
async def test_decodes_bodies(
    make: MakeSetup, encoding: str | None, body: bytes, expected: bytes
) -> None:
    """gzip, deflate (zlib or raw) and brotli bodies, streamed in chunks, come back decoded."""
    headers = {"Content-Encoding": encoding} if encoding else {}
    setup = make(streamed(body, headers))
    assert (await setup.fetcher.get(URL)).body == expected


@pytest.mark.parametrize("step", [1, 7, 100_000])
async def test_decodes_a_brotli_body_in_any_chunking(make: MakeSetup, step: int) -> None:
    """A brotli stream decodes the same whether it arrives a byte at a time or all at once."""
    setup = make(streamed(brotli.compress(PAYLOAD * 20), {"Content-Encoding": "br"}, step=step))
    assert (await setup.fetcher.get(URL)).body == PAYLOAD * 20


async def test_in_memory_response(make: MakeSetup) -> None:
    """A MockTransport Response built from bytes (already read by httpx) is taken as it is."""
    answer = httpx.Response(
        200, content=gzip.compress(PAYLOAD), headers={"Content-Encoding": "gzip"}
    )
    setup = make(replies(answer))
    assert (await setup.fetcher.get(URL)).body == PAYLOAD
    compressed = len(gzip.compress(PAYLOAD))
    small = make(replies(answer), policy=FetchPolicy(max_body_bytes=compressed + 1))
    with pytest.raises(BodyTooLarge, match="passed the limit"):
        await small.fetcher.get(URL)


# --- limits -------------------------------------------------------------------------------------


class Endless:
    """An unending body that counts how many chunks were pulled from it."""

    def __init__(self, chunk: bytes) -> None:
        self.chunk = chunk
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            self.pulled += 1
            yield self.chunk


async def test_content_length_over_limit_is_refused_unread(make: MakeSetup) -> None:
    """A Content-Length over the limit is refused before a byte of the body is read."""
    body = Endless(b"x" * 1000)
    answer = httpx.Response(200, content=body, headers={"Content-Length": "1000001"})
    setup = make(replies(answer), policy=FetchPolicy(max_body_bytes=1_000_000))
    with pytest.raises(BodyTooLarge, match="announces 1000001 bytes") as caught:
        await setup.fetcher.get(URL)
    assert caught.value.status == 200
    assert (body.pulled, len(setup.requests), setup.sleeps.calls) == (0, 1, [])


async def test_streamed_body_over_limit_stops_reading(make: MakeSetup) -> None:
    """A chunked body is refused as soon as it passes the limit; the rest is never pulled."""
    body = Endless(b"x" * 1000)
    setup = make(
        lambda request: httpx.Response(200, content=body), policy=FetchPolicy(max_body_bytes=10_000)
    )
    with pytest.raises(BodyTooLarge, match="passed the limit of 10000 bytes"):
        await setup.fetcher.get(URL)
    assert body.pulled == 11
    assert setup.sleeps.calls == []


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("br", lambda data: brotli.compress(data, quality=5)), ("gzip", gzip.compress)],
)
async def test_decompression_bomb_is_bounded(
    make: MakeSetup, encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    """64 MB of zeros in a few KB is refused at the 1 MB limit without inflating it all."""
    bomb = compress(b"\0" * (64 * 1024 * 1024))
    assert len(bomb) < 100_000
    policy = FetchPolicy(max_body_bytes=1024 * 1024)
    setup = make(streamed(bomb, {"Content-Encoding": encoding}, step=65536), policy=policy)
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge):
            await setup.fetcher.get(URL)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", b"definitely not gzip"),
        ("br", b"definitely not brotli"),
        ("gzip", gzip.compress(PAYLOAD)[:-12]),
        ("br", brotli.compress(PAYLOAD)[:-4]),
    ],
)
async def test_corrupt_or_truncated_compression_is_transient(
    make: MakeSetup, encoding: str, body: bytes
) -> None:
    """A body that does not decode is a transient failure, retried, then raised."""
    setup = make(streamed(body, {"Content-Encoding": encoding}))
    with pytest.raises(TransientFetchError, match=f"could not decode the {encoding} body"):
        await setup.fetcher.get(URL)
    assert len(setup.requests) == POLICY.attempts


async def test_unsupported_encoding_is_not_retried(make: MakeSetup) -> None:
    """A Content-Encoding this module cannot decode fails at once."""
    setup = make(streamed(b"..", {"Content-Encoding": "zstd"}))
    with pytest.raises(FetchError, match="unsupported Content-Encoding 'zstd'") as caught:
        await setup.fetcher.get(URL)
    assert not isinstance(caught.value, TransientFetchError)
    assert len(setup.requests) == 1


# --- retries ------------------------------------------------------------------------------------


async def test_500_then_200_is_retried(make: MakeSetup) -> None:
    """One 500 then a 200: the answer, after one full-jitter sleep."""
    setup = make(replies(httpx.Response(500), httpx.Response(200, content=b"{}")), draw=0.5)
    response = await setup.fetcher.get(URL)
    assert (response.status, response.attempts) == (200, 2)
    assert setup.sleeps.calls == [0.25]


@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999999])
async def test_500_every_time_gives_up(make: MakeSetup, draw: float) -> None:
    """attempts tries, attempts-1 sleeps each within its exponential bound, then the 5xx error."""
    setup = make(replies(httpx.Response(500, text="upstream exploded")), draw=draw)
    with pytest.raises(TransientFetchError) as caught:
        await setup.fetcher.get(URL)
    assert type(caught.value) is TransientFetchError
    assert caught.value.status == 500
    assert str(caught.value) == f"HTTP 500 from {URL}: upstream exploded (gave up after 4 attempts)"
    assert len(setup.requests) == 4
    bounds = [0.5, 1.0, 2.0]
    assert setup.sleeps.calls == pytest.approx([draw * bound for bound in bounds])
    assert all(0 <= slept < bound for slept, bound in zip(setup.sleeps.calls, bounds, strict=True))


async def test_408_is_retried(make: MakeSetup) -> None:
    """408 Request Timeout is retried like a 5xx."""
    setup = make(replies(httpx.Response(408), httpx.Response(200, content=b"{}")))
    assert (await setup.fetcher.get(URL)).attempts == 2


@pytest.mark.parametrize(
    ("retry_after", "headers", "expected_sleep", "expected_retry_after"),
    [
        ("7", {}, 7.0, 7.0),
        ("0", {}, 0.0, 0.0),
        ("Thu, 01 Jan 2026 12:00:45 GMT", {"Date": "Thu, 01 Jan 2026 12:00:00 GMT"}, 45.0, 45.0),
        ("Thu, 01 Jan 2026 12:00:20 GMT", {}, 20.0, 20.0),
        ("3600", {}, 60.0, 3600.0),
        ("whenever", {}, 0.25, None),
    ],
)
async def test_429_honours_retry_after(
    make: MakeSetup,
    retry_after: str,
    headers: dict[str, str],
    expected_sleep: float,
    expected_retry_after: float | None,
) -> None:
    """429 waits exactly what Retry-After says (capped), then raises RateLimited with it."""
    answer = httpx.Response(429, headers={"Retry-After": retry_after, **headers})
    setup = make(replies(answer), policy=FetchPolicy(attempts=2, retry_after_cap_s=60.0))
    with pytest.raises(RateLimited) as caught:
        await setup.fetcher.get(URL)
    assert setup.sleeps.calls == [expected_sleep]
    assert (caught.value.status, caught.value.retry_after) == (429, expected_retry_after)
    assert "gave up after 2 attempts" in str(caught.value)


async def test_503_retry_after_then_success(make: MakeSetup) -> None:
    """A 503 with Retry-After waits that long, then the next answer is returned."""
    first = httpx.Response(503, headers={"Retry-After": "12"})
    setup = make(replies(first, httpx.Response(200, content=b"{}")))
    assert (await setup.fetcher.get(URL)).attempts == 2
    assert setup.sleeps.calls == [12.0]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
async def test_client_errors_are_not_retried(make: MakeSetup, status: int) -> None:
    """Other 4xx raise UpstreamHTTPError at once with the status and a body excerpt."""
    body = {"error": {"message": "Invalid   API   key " + "x" * 9000}}
    setup = make(replies(httpx.Response(status, json=body)))
    with pytest.raises(UpstreamHTTPError) as caught:
        await setup.fetcher.get(URL)
    assert caught.value.status == status
    message = str(caught.value)
    assert message.startswith(
        f'HTTP {status} from {URL}: {{"error":{{"message":"Invalid API key xxx'
    )
    assert message.endswith("…")
    assert len(message) < 300
    assert (len(setup.requests), setup.sleeps.calls) == (1, [])


async def test_undecodable_error_body_leaves_the_excerpt_out(make: MakeSetup) -> None:
    """An error body that does not decode still gives the status error, without an excerpt."""
    setup = make(streamed(b"not gzip at all", {"Content-Encoding": "gzip"}, status=403))
    with pytest.raises(UpstreamHTTPError) as caught:
        await setup.fetcher.get(URL)
    assert str(caught.value) == f"HTTP 403 from {URL}"


async def test_redirect_is_followed(make: MakeSetup) -> None:
    """A redirect is followed and the response names the final URL."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/old":
            return httpx.Response(301, headers={"Location": "https://api.example.com/new"})
        return httpx.Response(200, content=b"{}")

    setup = make(handler)
    response = await setup.fetcher.get("https://api.example.com/old")
    assert (response.status, response.url) == (200, "https://api.example.com/new")


@pytest.mark.parametrize(
    ("exc_type", "message"),
    [
        (httpx.ReadTimeout, f"timed out after 30.0s reading {URL}"),
        (httpx.ConnectTimeout, f"timed out after 5.0s connecting to {URL}"),
        (httpx.WriteTimeout, f"timed out after 30.0s sending the request to {URL}"),
        (httpx.PoolTimeout, f"timed out after 30.0s waiting for a free connection to {URL}"),
        (httpx.ConnectError, f"connection failed for {URL}: ConnectError: boom"),
        (httpx.ReadError, f"connection failed for {URL}: ReadError: boom"),
        (httpx.RemoteProtocolError, f"connection failed for {URL}: RemoteProtocolError: boom"),
    ],
)
async def test_transport_failures_are_retried_then_raised(
    make: MakeSetup, exc_type: type[httpx.RequestError], message: str
) -> None:
    """Timeouts and connection errors are retried, then raised mapped, never as httpx errors."""
    setup = make(raises(exc_type))
    with pytest.raises(TransientFetchError) as caught:
        await setup.fetcher.get(URL)
    assert str(caught.value) == f"{message} (gave up after 4 attempts)"
    assert (caught.value.status, len(setup.sleeps.calls)) == (None, 3)
    cause = caught.value.__cause__
    assert isinstance(cause, TransientFetchError)
    assert isinstance(cause.__cause__, exc_type)


async def test_timeout_then_success(make: MakeSetup) -> None:
    """A read timeout followed by an answer returns the answer on the second attempt."""
    calls = iter([True, False])

    def handler(request: httpx.Request) -> httpx.Response:
        if next(calls):
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, content=b"{}")

    setup = make(handler)
    assert (await setup.fetcher.get(URL)).attempts == 2


@pytest.mark.parametrize(
    "exc_type", [httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.TooManyRedirects]
)
async def test_other_httpx_errors_are_mapped_not_retried(
    make: MakeSetup, exc_type: type[httpx.RequestError]
) -> None:
    """Any other httpx error becomes a plain FetchError at once."""
    setup = make(raises(exc_type))
    with pytest.raises(FetchError, match=f"could not fetch {URL}") as caught:
        await setup.fetcher.get(URL)
    assert not isinstance(caught.value, TransientFetchError)
    assert isinstance(caught.value.__cause__, exc_type)
    assert len(setup.requests) == 1


async def test_invalid_url_is_a_fetch_error(make: MakeSetup) -> None:
    """A URL httpx cannot parse is a FetchError, not an httpx exception."""
    setup = make(replies(httpx.Response(200)))
    with pytest.raises(FetchError, match="invalid URL"):
        await setup.fetcher.get("http://api.example.com:notaport/")


async def test_unsupported_scheme_is_a_fetch_error() -> None:
    """A scheme httpx has no transport for fails at once as a FetchError."""
    async with build_client(POLICY) as client:
        with pytest.raises(FetchError, match="could not fetch ftp://"):
            await Fetcher(client, POLICY).get("ftp://files.example.com/models")


async def test_single_attempt_policy(make: MakeSetup) -> None:
    """attempts=1 means no retry and no sleep."""
    setup = make(replies(httpx.Response(502)), policy=FetchPolicy(attempts=1))
    with pytest.raises(TransientFetchError, match=r"gave up after 1 attempt\)"):
        await setup.fetcher.get(URL)
    assert setup.sleeps.calls == []


# --- secrets ------------------------------------------------------------------------------------


def _all_text(exc: BaseException | None) -> Iterator[str]:
    while exc is not None:
        yield str(exc)
        exc = exc.__cause__


async def test_secrets_stay_out_of_messages_and_logs(make: MakeSetup) -> None:
    """Keys in headers or the query string never reach error messages, logs or the response URL."""
    setup = make(replies(httpx.Response(500), httpx.Response(200, content=b"{}")))
    secret_headers = {"Authorization": "Bearer SECRET1", "x-goog-api-key": "SECRET2"}
    with capture_logs() as logs:
        response = await setup.fetcher.get(URL, params={"key": "SECRET3"}, headers=secret_headers)
    assert response.url == URL + "?key=***"
    assert logs, "the retry is logged"
    assert "SECRET" not in repr(logs)
    assert setup.requests[-1].url.params["key"] == "SECRET3"

    failing = make(replies(httpx.Response(404, text="no")))
    with pytest.raises(UpstreamHTTPError) as caught:
        await failing.fetcher.get(URL + "?key=SECRET4", headers=secret_headers)
    assert not any("SECRET" in text for text in _all_text(caught.value))
