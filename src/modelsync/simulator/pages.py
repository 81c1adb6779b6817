"""Each gateway's list document and pagination, in the real API's shape.

:func:`render` is pure: a :class:`ListRequest` in, one :class:`Listing` out. Paged
gateways: Google (``pageSize``/``pageToken`` -> ``nextPageToken``), NEAR (``limit``/``offset``,
echoing ``limit, offset, total``), fal (``limit``/``cursor``, the cursor being the base64 page
number, -> ``next_cursor``/``has_more``) and Hugging Face (a single list unless ``limit`` is given,
then an RFC 8288 ``Link: <...>; rel="next"`` header back to the simulator).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson

from modelsync.simulator.shapes import SHAPES, entry_id

DEFAULT_PAGE_SIZES: Mapping[str, int] = {"google": 20, "fal": 25, "near": 100}
"""Page sizes when the client sends none: small for Google and fal so paging is exercised."""

DEFAULT_PAGE_CAPS: Mapping[str, int] = {"google": 20}
"""The most items a page holds whatever the client asks. Google's docs allow it ("the service may
return fewer models than this value"), and it makes a client asking ``pageSize=1000`` page too."""

_MINIMAL_KEYS = ("id", "object", "created", "owned_by")


class PageError(ValueError):
    """A bad paging parameter: the client gets a 400 in the gateway's error shape."""


@dataclass(frozen=True, slots=True)
class Listing:
    """One response's items and the envelope around them."""

    gateway: str
    items: list[Any]
    list_key: str | None
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def document(self, *, list_as_object: bool = False) -> Any:
        """The JSON document; with ``list_as_object`` the list becomes ``{id: entry}``."""
        items: Any = self.items
        if list_as_object:
            shape = SHAPES[self.gateway]
            items = {entry_id(shape, item): item for item in self.items if isinstance(item, dict)}
        if self.list_key is None:
            return items
        return {**self.before, self.list_key: items, **self.after}

    def head_and_tail(self) -> tuple[bytes, bytes]:
        """The bytes before and after the list's items (for streaming a huge list)."""
        if self.list_key is None:
            return b"[", b"]"
        head = orjson.dumps(self.before)[:-1] + (b"," if self.before else b"")
        head += orjson.dumps(self.list_key) + b":["
        tail = b"]" + (b"," + orjson.dumps(self.after)[1:] if self.after else b"}")
        return head, tail


@dataclass(frozen=True, slots=True)
class ListRequest:
    """What a renderer needs: the gateway, its (possibly faulted) entries and the request."""

    gateway: str
    entries: list[Any]
    query: Mapping[str, str]
    page_sizes: Mapping[str, int] = field(default_factory=lambda: DEFAULT_PAGE_SIZES)
    url: str = ""
    minimal: bool = False
    page_caps: Mapping[str, int] = field(default_factory=lambda: DEFAULT_PAGE_CAPS)

    def page_size(self, name: str, fallback: int) -> int:
        """The ``name`` query parameter, else this gateway's default page size; then capped."""
        default = self.page_sizes.get(self.gateway, fallback)
        size = _int_param(self.query, name, default, low=1, high=1000)
        return min(size, self.page_caps.get(self.gateway, size))


def render(request: ListRequest) -> Listing:
    """The listing the gateway answers for the request (``minimal``: xAI's plain /v1/models)."""
    return _RENDERERS.get(request.gateway, _openai_list)(request)


def _openai_list(request: ListRequest) -> Listing:
    gateway, entries = request.gateway, request.entries
    shape = SHAPES[gateway]
    verbose = request.query.get("verbose", "").lower() == "true"
    if request.minimal or (gateway == "nebius" and not verbose):
        entries = [_minimal(entry) for entry in entries]
    if gateway == "xai" and request.minimal:
        return Listing(gateway, entries, "data", before={"object": "list"})
    if shape.list_key is None or gateway in ("openrouter", "aimo", "xai"):
        return Listing(gateway, entries, shape.list_key)
    return Listing(gateway, entries, shape.list_key, before={"object": "list"})


def _minimal(entry: Any) -> Any:
    if not isinstance(entry, dict):
        return entry
    return {key: entry[key] for key in _MINIMAL_KEYS if key in entry}


def _google(request: ListRequest) -> Listing:
    size = request.page_size("pageSize", 50)
    token = request.query.get("pageToken", "")
    start = _decode_offset(token) if token else 0
    page = request.entries[start : start + size]
    after = {}
    if start + size < len(request.entries):
        after["nextPageToken"] = _encode_offset(start + size)
    return Listing(request.gateway, page, "models", after=after)


def _near(request: ListRequest) -> Listing:
    limit = request.page_size("limit", 100)
    offset = _int_param(request.query, "offset", 0, low=0, high=10**9)
    page = request.entries[offset : offset + limit]
    after = {"limit": limit, "offset": offset, "total": len(request.entries)}
    return Listing(request.gateway, page, "models", after=after)


def _fal(request: ListRequest) -> Listing:
    limit = request.page_size("limit", 100)
    cursor = request.query.get("cursor", "")
    page_number = _decode_page_number(cursor) if cursor else 1
    start = (page_number - 1) * limit
    page = request.entries[start : start + limit]
    has_more = start + limit < len(request.entries)
    after = {"next_cursor": _b64(str(page_number + 1)) if has_more else None, "has_more": has_more}
    return Listing(request.gateway, page, "models", after=after)


def _huggingface(request: ListRequest) -> Listing:
    envelope = {"object": "list"}
    if "limit" not in request.query:
        return Listing(request.gateway, request.entries, "data", before=envelope)
    limit = _int_param(request.query, "limit", 0, low=1, high=10_000)
    cursor = request.query.get("cursor", "")
    start = _decode_offset(cursor) if cursor else 0
    page = request.entries[start : start + limit]
    headers = {}
    if start + limit < len(request.entries):
        params = {**request.query, "limit": str(limit), "cursor": _encode_offset(start + limit)}
        base = request.url.split("?", 1)[0]
        headers["link"] = f'<{base}?{urlencode(params)}>; rel="next"'
    return Listing(request.gateway, page, "data", before=envelope, headers=headers)


_RENDERERS: Mapping[str, Callable[[ListRequest], Listing]] = {
    "google": _google,
    "near": _near,
    "fal": _fal,
    "huggingface": _huggingface,
}


def _int_param(query: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.strip().isdigit():
        raise PageError(f"{name} must be a whole number, got {raw!r}")
    value = int(raw)
    if not low <= value <= high:
        raise PageError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise PageError(f"invalid page token {token!r}") from None


def _encode_offset(offset: int) -> str:
    return _b64(f"offset:{offset}")


def _decode_offset(token: str) -> int:
    label, _, number = _unb64(token).partition(":")
    if label != "offset" or not number.isdigit():
        raise PageError(f"invalid page token {token!r}")
    return int(number)


def _decode_page_number(cursor: str) -> int:
    text = _unb64(cursor)
    if not text.isdigit() or int(text) < 1:
        raise PageError(f"invalid cursor {cursor!r}")
    return int(text)
