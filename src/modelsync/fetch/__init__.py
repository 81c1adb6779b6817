"""The HTTP fetch policy: the one shared ``httpx.AsyncClient`` and the one way an upstream is read.

:func:`build_client` builds the shared client (the composition root calls it once); every GET then
goes through :meth:`Fetcher.get`, which applies DESIGN sections 1 and 5:

- conditional GET from :class:`Validators`; a 304 comes back as ``not_modified`` with no body;
- gzip, deflate and brotli decoded in bounded steps under ``max_body_bytes``, so neither a long
  body nor a decompression bomb can exhaust memory (:mod:`modelsync.fetch.decoding`);
- retries on timeouts, connection errors, 408, 429 and 5xx, ``attempts`` tries in all, sleeping
  ``random() * min(cap, base * 2**n)`` (full jitter) or, on 429/503, the server's ``Retry-After``
  (capped at ``retry_after_cap_s``); the give-up error says how many attempts were made;
- deadlines: one attempt ends within ``attempt_timeout_s`` however slowly the server trickles,
  and a retry or ``Retry-After`` wait that would pass the caller's ``budget_s`` is not started
  (the error is raised at once, with its ``retry_after``);
- redirects are followed by hand, on the request's own origin only: the key headers
  (``Authorization``, ``x-goog-api-key``, ...) never reach another host, and a redirect to an
  origin the gateway does not allow is an error, so no other host's catalog is ever stored;
- every httpx exception mapped into :mod:`modelsync.errors` with ``raise ... from``::

      httpx.TimeoutException                      -> TransientFetchError  "timed out after ...s"
      httpx.NetworkError, RemoteProtocolError,
        ProxyError                                -> TransientFetchError  "connection failed"
      429                                         -> RateLimited (retry_after)
      408, 5xx; a corrupt or truncated gzip/br    -> TransientFetchError
      other 4xx, 3xx left over                    -> UpstreamHTTPError (status, body excerpt)
      body over the limit                         -> BodyTooLarge
      any other httpx error, a bad URL, an
        unsupported Content-Encoding              -> FetchError

The retries are a small explicit loop rather than tenacity: the delay needs the injected
``random``, the ``Retry-After`` the failed attempt carried, and the final error rewritten with the
attempt count, which in tenacity would be three callbacks around the same ten lines.

Secrets: request headers (``Authorization``, ``x-goog-api-key``, ``Key``) are never logged or put
in messages, and every URL this package shows (messages, logs, :attr:`FetchResponse.url`) has
secret-looking query values (``key=``, ``token=``) masked by :func:`redact_url`.
"""

from modelsync.fetch.fetcher import Fetcher
from modelsync.fetch.policy import (
    ACCEPT_ENCODING,
    FetchPolicy,
    FetchResponse,
    Validators,
    build_client,
    origin_of,
    redact_url,
    retry_after_seconds,
    retry_delay,
    rewrite_url,
    status_error,
)

__all__ = [
    "ACCEPT_ENCODING",
    "FetchPolicy",
    "FetchResponse",
    "Fetcher",
    "Validators",
    "build_client",
    "origin_of",
    "redact_url",
    "retry_after_seconds",
    "retry_delay",
    "rewrite_url",
    "status_error",
]
