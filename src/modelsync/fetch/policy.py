"""The fetch policy as values: settings, validators, responses, the shared client, pure rules.

Everything here is pure except :func:`build_client`, which only constructs the client.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from modelsync.config import MAX_BODY_BYTES
from modelsync.errors import FetchError, RateLimited, TransientFetchError, UpstreamHTTPError

if TYPE_CHECKING:
    from modelsync.config import HttpSettings

ACCEPT_ENCODING = "gzip, deflate, br"
"""The codings :mod:`modelsync.fetch.decoding` decodes (and so the only ones advertised)."""

_SECRET_PARAMS = frozenset(
    {"key", "api_key", "apikey", "api-key", "token", "access_token", "secret", "sig", "signature"}
)
_LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=16, keepalive_expiry=30.0)


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Timeouts, size limit, retry budget and identity of every upstream GET."""

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    max_body_bytes: int = MAX_BODY_BYTES
    attempts: int = 4
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    retry_after_cap_s: float = 120.0
    attempt_timeout_s: float = 60.0
    """The most one attempt may take in all (connect, headers and body): the read timeout alone
    never ends a server that trickles a byte every few seconds."""
    max_redirects: int = 5
    user_agent: str = "modelsync/0.1"

    @classmethod
    def from_settings(cls, http: HttpSettings) -> FetchPolicy:
        """The policy the ``http`` settings describe."""
        return cls(
            connect_timeout_s=http.connect_timeout_s,
            read_timeout_s=http.read_timeout_s,
            max_body_bytes=http.max_body_bytes,
            attempts=http.attempts,
            backoff_base_s=http.backoff_base_s,
            backoff_cap_s=http.backoff_cap_s,
            retry_after_cap_s=http.retry_after_cap_s,
            attempt_timeout_s=http.attempt_timeout_s,
            user_agent=http.user_agent,
        )

    @property
    def timeout(self) -> httpx.Timeout:
        """Connect from the policy; read, write and waiting for a pooled connection: read."""
        read = self.read_timeout_s
        return httpx.Timeout(connect=self.connect_timeout_s, read=read, write=read, pool=read)


@dataclass(frozen=True, slots=True)
class Validators:
    """A response's cache validators, sent back on the next GET to make it conditional."""

    etag: str | None = None
    last_modified: str | None = None

    def request_headers(self) -> dict[str, str]:
        """``If-None-Match`` and ``If-Modified-Since`` for the validators that are set."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True, slots=True)
class FetchResponse:
    """A successful GET (2xx or 304), body decoded.

    ``url`` is the final URL (after redirects) with secrets masked, safe to log. ``headers`` has
    lower-case names; on a 304 the validators that were sent fill in any the server left out, so
    :attr:`validators` is always what to send next time.
    """

    url: str
    status: int
    body: bytes
    headers: Mapping[str, str]
    not_modified: bool
    attempts: int
    elapsed_s: float

    @property
    def validators(self) -> Validators:
        """The ``ETag`` / ``Last-Modified`` of this response."""
        return Validators(self.headers.get("etag"), self.headers.get("last-modified"))


def build_client(
    policy: FetchPolicy, *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The shared client: policy timeouts, HTTP/1.1 keep-alive pool, redirects, identity headers."""
    return httpx.AsyncClient(
        transport=transport,
        timeout=policy.timeout,
        limits=_LIMITS,
        follow_redirects=True,
        headers=identity_headers(policy),
    )


def identity_headers(policy: FetchPolicy) -> dict[str, str]:
    """User-Agent, Accept (JSON) and Accept-Encoding, sent on every GET."""
    return {
        "User-Agent": policy.user_agent,
        "Accept": "application/json",
        "Accept-Encoding": ACCEPT_ENCODING,
    }


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower case, the port only when it is not the default:
    the unit a gateway's key is confined to."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def rewrite_url(url: str, upstream: str | None, gateway: str) -> str:
    """Route a gateway's real URL to the stand-in at ``upstream`` (``MODELSYNC_UPSTREAM``).

    ``https://api.host/some/path?q=1`` becomes ``{upstream}/{gateway}/some/path?q=1``; ``None``
    leaves it alone, and so does a URL already under ``upstream`` (a ``Link`` the stand-in wrote).
    """
    if not upstream:
        return url
    base = upstream.rstrip("/")
    if "://" not in base:
        base = f"http://{base}"
    if url == base or url.startswith((f"{base}/", f"{base}?")):
        return url
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{base}/{gateway}{parts.path}{query}"


def redact_url(url: str) -> str:
    """The URL with secret-looking query values and any userinfo replaced by ``***``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(name.lower() in _SECRET_PARAMS for name, _ in pairs):
        masked = [(n, "***" if n.lower() in _SECRET_PARAMS else v) for n, v in pairs]
        query = urlencode(masked, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def retry_after_seconds(value: str | None, *, date: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` value (delay-seconds or HTTP-date) asks for; ``None`` if unusable.

    An HTTP-date counts from the response's ``Date`` (the server's own clock, so skew cancels out)
    and from ``now`` when there is none. Never negative.
    """
    text = (value or "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        when = _http_date(text)
        if when is None:
            return None
        origin = _http_date(date) if date else None
        seconds = (when - (origin or now)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _http_date(text: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def retry_delay(
    policy: FetchPolicy, failures: int, retry_after: float | None, draw: float
) -> float:
    """Seconds to sleep after the ``failures``-th failed attempt (1-based).

    The server's ``retry_after`` capped at ``retry_after_cap_s`` when it gave one, else full
    jitter: ``draw * min(backoff_cap_s, backoff_base_s * 2**(failures - 1))``, ``draw`` in [0, 1).
    """
    if retry_after is not None:
        return min(retry_after, policy.retry_after_cap_s)
    return draw * min(policy.backoff_cap_s, policy.backoff_base_s * 2.0 ** (failures - 1))


def status_error(
    status: int, url: str, headers: Mapping[str, str], excerpt: str, now: datetime
) -> FetchError:
    """The error a non-2xx, non-304 answer becomes: retried for 408, 429 and 5xx, else final."""
    message = f"HTTP {status} from {url}" + (f": {excerpt}" if excerpt else "")
    retry_after = None
    if status in (429, 503):
        retry_after = retry_after_seconds(
            headers.get("retry-after"), date=headers.get("date"), now=now
        )
    if status == 429:
        return RateLimited(message, status=status, retry_after=retry_after)
    if status == 408 or status >= 500:
        return TransientFetchError(message, status=status, retry_after=retry_after)
    return UpstreamHTTPError(message, status=status)
