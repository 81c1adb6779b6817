"""The offload's pure core: a document cut by the worker and joined piece by piece is the same
value ``orjson.loads`` gives, whatever its shape (issue 12 item 3)."""

from __future__ import annotations

import gc
from typing import Any

import orjson
import pytest

from modelsync.sync.offload import (
    SLICE_ITEMS,
    Offload,
    collector_paused,
    join_document,
    split_document,
)

MANY = SLICE_ITEMS * 3 + 7


def entry(i: int) -> dict[str, Any]:
    return {"id": f"vendor/model-{i}", "pricing": {"prompt": "0.000001"}, "tags": [i, 1.5, None]}


CASES: dict[str, Any] = {
    "a bare list": [entry(i) for i in range(MANY)],
    "OpenRouter-shaped": {"data": [entry(i) for i in range(MANY)], "object": "list"},
    "an object keyed by id": {f"m{i}": entry(i) for i in range(MANY)},
    "models.dev-shaped (nested)": {
        "small": {"id": "small", "models": {"a": entry(0)}},
        "big": {"id": "big", "models": {f"m{i}": entry(i) for i in range(MANY)}},
    },
    "a list inside a list": [[entry(i) for i in range(MANY)], {"next": "cursor"}],
    "small (no cut)": {"data": [entry(i) for i in range(10)]},
    "a scalar": 42,
    "unicode and big numbers": {"data": [{"id": "ü-ß-模型", "n": 2**63 - 1}] * MANY},
}


@pytest.mark.parametrize("name", CASES)
def test_cut_and_joined_is_the_same_document(name: str) -> None:
    body = orjson.dumps(CASES[name])
    pieces = split_document(body)
    assert pieces.error is None
    assert join_document(pieces) == orjson.loads(body)
    if name not in ("small (no cut)", "a scalar"):
        assert len(pieces.slices) == 4, "the biggest container is the one cut"
        assert all(len(piece) < len(body) / 2 for piece in pieces.slices)


@pytest.mark.parametrize("body", [b"{not json", b"", b'{"data": [1, 2,]}'])
def test_bad_json_is_the_same_error_as_loads(body: bytes) -> None:
    pieces = split_document(body)
    assert pieces.error
    with pytest.raises(orjson.JSONDecodeError):
        join_document(pieces)


@pytest.mark.timeout(60)
async def test_a_big_body_decodes_in_the_worker_process() -> None:
    """Through the real worker process (``split_bytes`` set low), and in the thread."""
    offload = Offload(split_bytes=1000)
    try:
        body = orjson.dumps(CASES["OpenRouter-shaped"])
        assert await offload.loads(body) == orjson.loads(body)
        assert await offload.loads(b"[1, 2]") == [1, 2]
        with pytest.raises(orjson.JSONDecodeError):
            await offload.loads(b"[" + b"1," * 1000 + b"]")
        assert await offload.call(sorted, [3, 1, 2]) == [1, 2, 3]
    finally:
        offload.close()


async def test_the_collector_is_paused_while_any_user_holds_it() -> None:
    """Nested and overlapping users: the collector runs again when the last one leaves; one
    someone else disabled is left disabled."""
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer user still holds it
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # not ours to enable
    finally:
        gc.enable()


async def test_offloaded_work_runs_with_the_collector_paused() -> None:
    """A full collection walks every container of a big catalog, holding the GIL (hundreds of
    ms of stalled loop): offloaded work runs with automatic collection off."""
    offload = Offload()
    try:
        assert await offload.call(gc.isenabled) is False
        assert gc.isenabled()
    finally:
        offload.close()
