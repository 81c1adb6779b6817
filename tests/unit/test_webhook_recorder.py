"""The group-commit delivery recorder: each caller waits for its batch's commit."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from modelsync.errors import StoreError
from modelsync.store.base import WebhookDelivery
from modelsync.webhooks.recorder import GroupCommitRecorder

START = datetime(2026, 1, 1, tzinfo=UTC)


def delivery(key: str, at: datetime = START, ttl_s: float = 600) -> WebhookDelivery:
    return WebhookDelivery(
        key=key,
        scheme="standard-webhooks",
        gateway="groq",
        event_types=("models.updated",),
        model_count=1,
        received_at=at,
        expires_at=at + timedelta(seconds=ttl_s),
    )


class FakeStore:
    """record_deliveries with a failure switch, a gate and a call log."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.stored: set[str] = set()
        self.failures = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def record_deliveries(self, deliveries: Sequence[WebhookDelivery]) -> list[bool]:
        await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database is away")
        self.batches.append([d.key for d in deliveries])
        answers = [d.key not in self.stored for d in deliveries]
        self.stored.update(d.key for d in deliveries)
        return answers


async def settle() -> None:
    """Let every ready task run."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_caller_is_answered_only_after_its_commit() -> None:
    """record() waits for the store: a 2xx can only follow a committed delivery."""
    store = FakeStore()
    store.gate.clear()
    rec = GroupCommitRecorder(store)
    task = asyncio.create_task(rec.record(delivery("a")))
    await settle()
    assert not task.done()
    assert store.stored == set()
    store.gate.set()
    assert await task is True
    assert store.stored == {"a"}


async def test_deliveries_arriving_during_a_commit_share_the_next_one() -> None:
    """One commit in flight; the 50 that arrive meanwhile go together in one batch."""
    store = FakeStore()
    store.gate.clear()
    rec = GroupCommitRecorder(store)
    first = asyncio.create_task(rec.record(delivery("first")))
    await settle()
    rest = [asyncio.create_task(rec.record(delivery(f"k{i}"))) for i in range(50)]
    await settle()
    store.gate.set()
    assert await first is True
    assert await asyncio.gather(*rest) == [True] * 50
    assert [len(batch) for batch in store.batches] == [1, 50]
    assert rec.batches == 2
    assert rec.largest_batch == 50


async def test_a_batch_is_at_most_max_batch() -> None:
    """Ten waiting deliveries with max_batch=4 commit as 4, 4 and 2 (after the first)."""
    store = FakeStore()
    store.gate.clear()
    rec = GroupCommitRecorder(store, max_batch=4)
    tasks = [asyncio.create_task(rec.record(delivery(f"k{i}"))) for i in range(10)]
    await settle()
    store.gate.set()
    await asyncio.gather(*tasks)
    assert [len(batch) for batch in store.batches] == [4, 4, 2]


async def test_a_key_repeated_in_one_batch_is_new_once() -> None:
    """The first of two identical deliveries is new, the second a duplicate; stored once."""
    store = FakeStore()
    store.gate.clear()
    rec = GroupCommitRecorder(store)
    tasks = [asyncio.create_task(rec.record(delivery("same"))) for _ in range(2)]
    await settle()
    store.gate.set()
    assert await asyncio.gather(*tasks) == [True, False]
    assert store.batches == [["same"]]
    assert await rec.record(delivery("same")) is False


async def test_a_failed_commit_is_a_store_error_for_every_caller_then_recovers() -> None:
    """The database away: every caller of the batch gets StoreError (503); the next succeeds."""
    store = FakeStore()
    store.failures = 1
    store.gate.clear()
    rec = GroupCommitRecorder(store)
    tasks = [asyncio.create_task(rec.record(delivery(f"k{i}"))) for i in range(3)]
    await settle()
    store.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(result, StoreError) for result in results)
    assert isinstance(results[0].__cause__, ConnectionError)  # type: ignore[union-attr]
    assert store.stored == set()
    assert await rec.record(delivery("k0")) is True


async def test_a_cancelled_caller_still_has_its_delivery_committed() -> None:
    """A request that goes away does not take its queued delivery out of the batch."""
    store = FakeStore()
    store.gate.clear()
    rec = GroupCommitRecorder(store)
    task = asyncio.create_task(rec.record(delivery("gone")))
    await settle()
    task.cancel()
    store.gate.set()
    await rec.aclose()
    assert store.stored == {"gone"}


async def test_aclose_waits_for_every_queued_delivery() -> None:
    """At shutdown, what is queued is committed before aclose returns."""
    store = FakeStore()
    store.gate.clear()
    rec = GroupCommitRecorder(store)
    tasks = [asyncio.create_task(rec.record(delivery(f"k{i}"))) for i in range(5)]
    await settle()
    closing = asyncio.create_task(rec.aclose())
    await settle()
    assert not closing.done()
    store.gate.set()
    await asyncio.wait_for(closing, timeout=5)
    assert store.stored == {f"k{i}" for i in range(5)}
    assert all(task.done() for task in tasks)


@pytest.mark.parametrize("count", [1, 200])
async def test_every_caller_gets_an_answer(count: int) -> None:
    """No caller is left waiting, idle or under a burst."""
    store = FakeStore()
    rec = GroupCommitRecorder(store)
    answers = await asyncio.wait_for(
        asyncio.gather(*(rec.record(delivery(f"k{i}")) for i in range(count))), timeout=5
    )
    assert answers == [True] * count
