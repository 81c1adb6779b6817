"""PURE: what each outbound purger sends for a set of tags and paths, as :class:`Call` values.

No I/O here: a target turns tags and page paths (DESIGN section 7) into the HTTP calls of its
API, batched to the API's limit; :mod:`modelsync.purge.worker` sends them.

* :class:`NextjsTarget`: ``POST {"tags": [...], "paths": [...]}`` to the front end's revalidate
  route with ``Authorization: Bearer <secret>`` (contract ``tags``), or the seed front end's
  ``POST /api/cache/invalidate {"type", "gateway"?, "modelId"?}``, one call per invalidation
  (contract ``gatewayz``).
* :class:`FastlyTarget`: ``POST {api}/service/{id}/purge`` with the keys in ``Surrogate-Key``
  (space-separated, at most 256 a call), ``Fastly-Key``, and ``Fastly-Soft-Purge: 1`` when soft.
* :class:`CloudflareTarget`: ``POST {api}/client/v4/zones/{zone}/purge_cache {"tags": [...]}``
  with a bearer token, at most ``batch`` tags a call.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import orjson

from modelsync.cache.tags import MODELS_ALL, MODELS_SEARCH, RANKINGS

FASTLY_MAX_KEYS = 256
"""Fastly's limit of surrogate keys per batch purge call."""
CLOUDFLARE_MAX_TAGS = 100
"""Cloudflare's per-call limit of cache tags (the API's documented default; Enterprise: more)."""
NEXTJS_MAX_KEYS = 1_000
"""Tags and paths per call to a Next.js revalidate route (one request, bounded body)."""
GATEWAYZ_MAX_CALLS = 100
"""Past this many ``gatewayz`` calls for one batch, one ``{"type": "all"}`` replaces them."""


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request of a purger; ``keys`` is how many tags and paths it carries."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    keys: int


class Target(Protocol):
    """An outbound purger's API: tags and paths in, calls out (pure)."""

    @property
    def name(self) -> str: ...

    def calls(self, tags: Sequence[str], paths: Sequence[str]) -> list[Call]: ...


def chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


JSON = {"content-type": "application/json"}


@dataclass(frozen=True, slots=True)
class NextjsTarget:
    url: str
    secret: str
    contract: Literal["tags", "gatewayz"] = "tags"
    name: str = "nextjs"

    def calls(self, tags: Sequence[str], paths: Sequence[str]) -> list[Call]:
        headers = JSON | {"authorization": f"Bearer {self.secret}"}
        if self.contract == "gatewayz":
            bodies = gatewayz_requests(tags)
            return [Call("POST", self.url, headers, orjson.dumps(b), 1) for b in bodies]
        keys = [("tag", t) for t in tags] + [("path", p) for p in paths]
        calls = []
        for start in range(0, len(keys), NEXTJS_MAX_KEYS):
            part = keys[start : start + NEXTJS_MAX_KEYS]
            body = {
                "tags": [k for kind, k in part if kind == "tag"],
                "paths": [k for kind, k in part if kind == "path"],
            }
            calls.append(Call("POST", self.url, headers, orjson.dumps(body), len(part)))
        return calls


def gatewayz_requests(tags: Sequence[str]) -> list[dict[str, Any]]:
    """The seed front end's ``/api/cache/invalidate`` bodies for these tags (paths it derives
    itself): ``model:{id}`` -> ``model-detail``, ``models:gateway:{g}`` -> ``models`` of ``g``,
    ``models:all`` -> ``models``, ``models:search`` -> ``search``, ``rankings``; unknown tags
    are skipped. Too many calls collapse into one ``{"type": "all"}``."""
    bodies: list[dict[str, Any]] = []
    for tag in tags:
        if tag == MODELS_ALL:
            bodies.append({"type": "models"})
        elif tag == MODELS_SEARCH:
            bodies.append({"type": "search"})
        elif tag == RANKINGS:
            bodies.append({"type": "rankings"})
        elif tag.startswith("models:gateway:"):
            bodies.append({"type": "models", "gateway": tag.removeprefix("models:gateway:")})
        elif tag.startswith("model:"):
            bodies.append({"type": "model-detail", "modelId": tag.removeprefix("model:")})
    if len(bodies) > GATEWAYZ_MAX_CALLS:
        return [{"type": "all"}]
    return bodies


@dataclass(frozen=True, slots=True)
class FastlyTarget:
    service_id: str
    token: str
    soft: bool = False
    api_url: str = "https://api.fastly.com"
    name: str = "fastly"

    def calls(self, tags: Sequence[str], paths: Sequence[str]) -> list[Call]:
        url = f"{self.api_url.rstrip('/')}/service/{self.service_id}/purge"
        headers = {"fastly-key": self.token, "accept": "application/json"}
        if self.soft:
            headers["fastly-soft-purge"] = "1"
        return [
            Call("POST", url, headers | {"surrogate-key": " ".join(part)}, None, len(part))
            for part in chunks(tags, FASTLY_MAX_KEYS)
        ]


@dataclass(frozen=True, slots=True)
class CloudflareTarget:
    zone: str
    token: str
    api_url: str = "https://api.cloudflare.com"
    batch: int = CLOUDFLARE_MAX_TAGS
    name: str = "cloudflare"

    def calls(self, tags: Sequence[str], paths: Sequence[str]) -> list[Call]:
        url = f"{self.api_url.rstrip('/')}/client/v4/zones/{self.zone}/purge_cache"
        headers = JSON | {"authorization": f"Bearer {self.token}"}
        return [
            Call("POST", url, headers, orjson.dumps({"tags": list(part)}), len(part))
            for part in chunks(tags, self.batch)
        ]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Retries: ``attempts`` in all; waits of full jitter up to ``base * 2**n``, at most ``cap``."""

    attempts: int = 5
    base_s: float = 0.5
    cap_s: float = 30.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, failed_attempts: int) -> float:
        """The wait after the ``failed_attempts``-th failure (1 for the first)."""
        ceiling = min(self.cap_s, self.base_s * 2 ** (failed_attempts - 1))
        return self.rng.uniform(0, ceiling)


def retryable(status: int) -> bool:
    """Server errors, 408 and 429 are retried; other 4xx are the request's fault: never."""
    return status >= 500 or status in (408, 429)
