"""The one way modelsync GETs an upstream: conditional, size-bounded, retried, errors mapped."""

from __future__ import annotations

import asyncio
import random as _random
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import structlog

from modelsync.errors import FetchError, TransientFetchError, UpstreamHTTPError
from modelsync.fetch.decoding import body_excerpt, read_body
from modelsync.fetch.policy import (
    ACCEPT_ENCODING,
    FetchPolicy,
    FetchResponse,
    Validators,
    identity_headers,
    origin_of,
    redact_url,
    retry_delay,
    status_error,
)
from modelsync.observability.metrics import upstream_request
from modelsync.observability.runs import count_request

log = structlog.get_logger("modelsync.fetch")


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes
    headers: dict[str, str]
    url: str


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Fetcher:
    """Sends GETs through the injected client under a :class:`FetchPolicy`.

    ``sleep``, ``random`` and ``monotonic`` are injected so tests see every backoff exactly;
    ``now`` (wall time) is only read for a ``Retry-After`` date on a response without ``Date``.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        policy: FetchPolicy,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._client = client
        self._policy = policy
        self._sleep = sleep
        self._random = random
        self._monotonic = monotonic
        self._now = now

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        validators: Validators | None = None,
        budget_s: float | None = None,
        foreign_origins: Collection[str] = (),
    ) -> FetchResponse:
        """GET ``url``; a 2xx or 304 answer, or a :class:`~modelsync.errors.FetchError`.

        Timeouts, connection errors, 408, 429 and 5xx are retried up to ``policy.attempts`` tries
        in all; the last failure is raised as ``RateLimited`` (429) or ``TransientFetchError``.
        Any other status raises ``UpstreamHTTPError`` at once, a body over the limit
        ``BodyTooLarge``. Each attempt ends within ``policy.attempt_timeout_s`` whatever the
        server does. ``budget_s`` is the time the caller has left: a retry, or a ``Retry-After``
        wait, that would pass it is not made (the last failure is raised at once, its
        ``retry_after`` kept). Redirects are followed on the URL's own origin only; one to an
        origin in ``foreign_origins`` is followed without ``headers`` (they carry the key), any
        other is refused.
        """
        started = self._monotonic()
        deadline = None if budget_s is None else started + budget_s
        try:
            target = httpx.URL(url).copy_merge_params(params or {})
        except httpx.InvalidURL as exc:
            raise FetchError(f"invalid URL {redact_url(url)!r}: {exc}") from exc
        shown = redact_url(str(target))
        request = _Request(
            target,
            shown,
            self._request_headers(headers, validators),
            self._request_headers(None, validators),
            frozenset(foreign_origins),
        )
        attempt = 0
        while True:
            attempt += 1
            try:
                answer = await self._attempt(request)
            except TransientFetchError as exc:
                if attempt >= self._policy.attempts:
                    raise _gave_up(exc, attempt) from exc
                delay = retry_delay(self._policy, attempt, exc.retry_after, self._random())
                if deadline is not None and self._monotonic() + delay >= deadline:
                    why = "a retry would pass the run's deadline"
                    raise _gave_up(exc, attempt, why=why) from exc
                log.debug(
                    "fetch retry",
                    url=shown,
                    attempt=attempt,
                    delay_s=round(delay, 3),
                    error=str(exc),
                )
                await self._sleep(delay)
            else:
                break
        not_modified = answer.status == 304
        response_headers = answer.headers
        if not_modified and validators is not None:
            sent = {"etag": validators.etag, "last-modified": validators.last_modified}
            response_headers = {k: v for k, v in sent.items() if v} | response_headers
        return FetchResponse(
            url=answer.url,
            status=answer.status,
            body=answer.body,
            headers=response_headers,
            not_modified=not_modified,
            attempts=attempt,
            elapsed_s=self._monotonic() - started,
        )

    def _request_headers(
        self, headers: Mapping[str, str] | None, validators: Validators | None
    ) -> httpx.Headers:
        merged = httpx.Headers(identity_headers(self._policy))
        merged.update(headers or {})
        if validators is not None:
            merged.update(validators.request_headers())
        merged["Accept-Encoding"] = ACCEPT_ENCODING
        return merged

    async def _attempt(self, request: _Request) -> _Answer:
        """One GET within the attempt's time limit, every httpx exception mapped."""
        limit = self._policy.attempt_timeout_s
        try:
            async with asyncio.timeout(limit):
                return await self._follow(request)
        except TimeoutError:
            raise TransientFetchError(
                f"no complete answer from {request.shown} within {limit:g}s "
                "(the server is too slow or trickles its body)"
            ) from None

    async def _follow(self, request: _Request) -> _Answer:
        """The GET and its redirects; a non-2xx/304 status raised as its error."""
        url, headers = request.target, request.headers
        home = origin_of(str(url))
        for _ in range(self._policy.max_redirects + 1):
            answer = await self._one(url, request.shown, headers)
            if isinstance(answer, _Answer):
                return answer
            url = answer
            origin = origin_of(str(url))
            if origin != home:
                if origin not in request.foreign_origins:
                    raise UpstreamHTTPError(
                        f"{request.shown} redirected to another origin ({origin}): not followed, "
                        "a gateway's key is only sent to its own origin (allow that origin in "
                        "the gateway's options.allowed_origins)"
                    )
                headers = request.foreign_headers
        raise UpstreamHTTPError(
            f"{request.shown}: more than {self._policy.max_redirects} redirects"
        )

    async def _one(self, url: httpx.URL, shown: str, headers: httpx.Headers) -> _Answer | httpx.URL:
        """One request: its answer, or the URL it redirects to."""
        policy = self._policy
        observed = _Observed(shown)
        try:
            async with self._client.stream(
                "GET", url, headers=headers, timeout=policy.timeout, follow_redirects=False
            ) as response:
                status = response.status_code
                observed.answered(status)
                final = redact_url(str(response.url))
                names = {name.lower(): value for name, value in response.headers.items()}
                if response.is_redirect and status != 304:
                    return url.join(names["location"])
                if status == 304:
                    return _Answer(status, b"", names, final)
                if 200 <= status < 300:
                    body = await read_body(response, final, policy.max_body_bytes)
                    return _Answer(status, body, names, final)
                excerpt = await body_excerpt(response, final)
                raise status_error(status, final, names, excerpt, self._now())
        except httpx.TimeoutException as exc:
            observed.failed(exc)
            raise TransientFetchError(_timeout_message(exc, policy, shown)) from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError) as exc:
            observed.failed(exc)
            raise TransientFetchError(f"connection failed for {shown}: {_describe(exc)}") from exc
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            observed.failed(exc)
            raise FetchError(f"could not fetch {shown}: {_describe(exc)}") from exc


class _Observed:
    """One request as metrics and the DEBUG request log see it (the URL shown redacted)."""

    def __init__(self, shown: str) -> None:
        self._shown = shown
        self._started = time.perf_counter()
        self._status: int | None = None

    def answered(self, status: int) -> None:
        self._status = status
        upstream_request(status)
        count_request()
        ms = round((time.perf_counter() - self._started) * 1000)
        log.debug("upstream_request", url=self._shown, status=status, ms=ms)

    def failed(self, exc: Exception) -> None:
        if self._status is None:  # no answer at all (an answered one was counted)
            upstream_request("error")
            count_request()
        log.debug("upstream_request_failed", url=self._shown, error=type(exc).__name__)


@dataclass(frozen=True, slots=True)
class _Request:
    """One GET as the fetcher sends it: where, shown how, and with which headers."""

    target: httpx.URL
    shown: str
    headers: httpx.Headers
    foreign_headers: httpx.Headers
    """What a redirect to an allowed foreign origin gets: no key, only identity and validators."""
    foreign_origins: frozenset[str]


def _timeout_message(exc: httpx.TimeoutException, policy: FetchPolicy, url: str) -> str:
    read = policy.read_timeout_s
    if isinstance(exc, httpx.ConnectTimeout):
        return f"timed out after {policy.connect_timeout_s}s connecting to {url}"
    if isinstance(exc, httpx.PoolTimeout):
        return f"timed out after {read}s waiting for a free connection to {url}"
    if isinstance(exc, httpx.WriteTimeout):
        return f"timed out after {read}s sending the request to {url}"
    return f"timed out after {read}s reading {url}"


def _describe(exc: Exception) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _gave_up(exc: TransientFetchError, attempts: int, *, why: str = "") -> TransientFetchError:
    """The last failure again, its message saying how many attempts were made (and why not
    more, when it was not the attempt limit)."""
    plural = "s" if attempts != 1 else ""
    reason = f": {why}" if why else ""
    message = f"{exc} (gave up after {attempts} attempt{plural}{reason})"
    return type(exc)(message, status=exc.status, retry_after=exc.retry_after)
