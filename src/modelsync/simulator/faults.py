"""Injectable faults: what each kind does to a gateway's answer, and how it is validated.

A gateway holds a queue of faults; each list request consumes the first one (a fault with
``times`` expires after that many requests, one without lasts until cleared). ``slow`` delays the
answer and then answers normally; the others replace or corrupt it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import orjson

from modelsync.simulator.pages import Listing
from modelsync.simulator.shapes import SHAPES, priced_paths, set_entry_id, set_path


class FaultKind(StrEnum):
    """Every fault the simulator can inject."""

    HTTP_500 = "http_500"
    HTTP_429 = "http_429"
    SLOW = "slow"
    MALFORMED_JSON = "malformed_json"
    HTML_ERROR = "html_error"
    EMPTY_LIST = "empty_list"
    TRUNCATED = "truncated"
    TRUNCATED_BODY = "truncated_body"
    DICT_FOR_LIST = "dict_for_list"
    BAD_PRICE = "bad_price"
    DUPLICATE_IDS = "duplicate_ids"
    HUGE_BODY = "huge_body"


ENTRY_FAULTS = frozenset(
    {FaultKind.EMPTY_LIST, FaultKind.TRUNCATED, FaultKind.BAD_PRICE, FaultKind.DUPLICATE_IDS}
)
"""Faults that edit the catalog before it is paged; the answer stays valid JSON."""

BAD_PRICE = "N/A"

HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    b"<body><h1>502 Bad Gateway</h1><p>The upstream server is temporarily unavailable."
    b"</p><hr><address>cloudflare</address></body></html>\n"
)


class FaultError(ValueError):
    """A fault request that cannot be honoured (the admin API answers 422 or 400)."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True, kw_only=True)
class Fault:
    """One injected fault. ``times`` is the number of requests it still affects (None: forever)."""

    kind: FaultKind
    times: int | None = None
    retry_after: int = 1
    seconds: float = 35.0
    percent: float = 50.0
    mib: float = 40.0

    def consume(self) -> bool:
        """Count one use; ``True`` when the fault is now spent."""
        if self.times is None:
            return False
        self.times -= 1
        return self.times <= 0

    def describe(self) -> dict[str, Any]:
        """The fault as JSON, with only the parameters its kind uses."""
        used = {
            FaultKind.HTTP_429: "retry_after",
            FaultKind.SLOW: "seconds",
            FaultKind.TRUNCATED: "percent",
            FaultKind.HUGE_BODY: "mib",
        }
        data = {key: value for key, value in asdict(self).items() if key in ("kind", "times")}
        if self.kind in used:
            data[used[self.kind]] = getattr(self, used[self.kind])
        return data


_LIMITS: Mapping[str, tuple[float, float]] = {
    "retry_after": (0, 86_400),
    "seconds": (0, 3_600),
    "percent": (0, 100),
    "mib": (0.001, 4_096),
}


def parse_fault(payload: Mapping[str, Any], *, gateway: str) -> Fault:
    """A fault from the admin API's (or a script's) JSON; raises FaultError on bad input."""
    kind_text = payload.get("kind")
    try:
        kind = FaultKind(str(kind_text))
    except ValueError:
        known = ", ".join(kind.value for kind in FaultKind)
        raise FaultError(f"unknown fault kind {kind_text!r}; known: {known}") from None
    if kind is FaultKind.BAD_PRICE and not SHAPES[gateway].has_prices:
        raise FaultError(
            f"{gateway}'s list API carries no prices: bad_price cannot apply", status=400
        )
    times = payload.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise FaultError(f"times must be a whole number >= 1 (or omitted), got {times!r}")
    fault = Fault(kind=kind, times=times)
    for name, (low, high) in _LIMITS.items():
        value = payload.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise FaultError(f"{name} must be a number, got {value!r}")
        if not low <= value <= high:
            raise FaultError(f"{name} must be between {low} and {high}, got {value!r}")
        setattr(fault, name, int(value) if name == "retry_after" else float(value))
    return fault


def apply_entry_fault(fault: Fault, gateway: str, entries: list[Any]) -> list[Any]:
    """The catalog as an entry fault shows it; the stored entries are never edited."""
    if fault.kind is FaultKind.EMPTY_LIST:
        return []
    if fault.kind is FaultKind.TRUNCATED:
        return entries[: math.floor(len(entries) * fault.percent / 100)]
    if fault.kind is FaultKind.DUPLICATE_IDS:
        return [*entries, *(copy.deepcopy(entry) for entry in entries[:2])]
    if fault.kind is FaultKind.BAD_PRICE:
        return _with_bad_price(gateway, entries)
    return entries


def _with_bad_price(gateway: str, entries: list[Any]) -> list[Any]:
    shape = SHAPES[gateway]
    for index, entry in enumerate(entries):
        paths = priced_paths(shape, entry)
        if paths:
            broken = copy.deepcopy(entry)
            set_path(broken, paths[0], BAD_PRICE)
            return [*entries[:index], broken, *entries[index + 1 :]]
    return entries


def corrupt(fault: Fault, body: bytes) -> bytes:
    """The body of a ``malformed_json`` (a stray comma and a wrong bracket) or a
    ``truncated_body`` (cut mid-document) answer."""
    if fault.kind is FaultKind.TRUNCATED_BODY:
        return body[: max(1, len(body) // 2)]
    return body[:-1] + b",}"


_PAD = "__modelsync_pad__"
_CHUNK_ENTRIES = 256


async def huge_body(listing: Listing, mib: float) -> AsyncIterator[bytes]:
    """A valid document of at least ``mib`` MiB, produced chunk by chunk (never held whole)."""
    shape = SHAPES[listing.gateway]
    template: Any = copy.deepcopy(listing.items[0]) if listing.items else {"id": _PAD}
    if isinstance(template, dict) and listing.items:
        set_entry_id(shape, template, _PAD)
    item = orjson.dumps(template)
    head, tail = listing.head_and_tail()
    yield head
    target = int(mib * 1024 * 1024)
    sent, number = len(head), 0
    while sent < target:
        parts = []
        for _ in range(_CHUNK_ENTRIES):
            parts.append(item.replace(_PAD.encode(), f"pad-{number}".encode()))
            number += 1
        chunk = (b"," if number > _CHUNK_ENTRIES else b"") + b",".join(parts)
        sent += len(chunk)
        yield chunk
    yield tail
