"""The buffered delivery recorder: immediate dedupe in memory, batched writes behind."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from modelsync.clock import ManualClock
from modelsync.store.base import WebhookDelivery
from modelsync.webhooks.recorder import BufferedRecorder

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


def recorder(store: FakeStore, **options: float) -> BufferedRecorder:
    return BufferedRecorder(store, ManualClock(START), flush_delay_s=0.001, retry_s=0.001,
                            **options)  # type: ignore[arg-type]  # fmt: skip


async def test_new_is_answered_at_once_and_written_behind() -> None:
    """record() does not wait for the store; the delivery is written a moment later."""
    store = FakeStore()
    store.gate.clear()
    rec = recorder(store)
    assert await rec.record(delivery("k1")) is True
    assert store.batches == []
    store.gate.set()
    await rec.aclose()
    assert store.batches == [["k1"]]


async def test_duplicate_inside_the_window_never_reaches_the_store() -> None:
    """A live key is a duplicate from memory; once expired it is new again."""
    store = FakeStore()
    rec = recorder(store)
    assert await rec.record(delivery("k")) is True
    assert await rec.record(delivery("k", START + timedelta(seconds=599))) is False
    assert await rec.record(delivery("k", START + timedelta(seconds=600))) is True
    await rec.aclose()
    assert [key for batch in store.batches for key in batch] == ["k", "k"]


async def test_remembered_keys_survive_a_restart() -> None:
    """Keys loaded from the store at start are duplicates for the rest of their window."""
    rec = recorder(FakeStore())
    rec.remember([("old", START + timedelta(minutes=5))])
    assert await rec.record(delivery("old")) is False
    assert await rec.record(delivery("old", START + timedelta(minutes=6))) is True
    await rec.aclose()


async def test_a_burst_goes_in_batches_of_at_most_max_batch() -> None:
    """Hundreds of deliveries make a few store calls, each within max_batch, each key once."""
    store = FakeStore()
    rec = recorder(store, max_batch=100)
    for number in range(250):
        assert await rec.record(delivery(f"k{number}")) is True
    await asyncio.sleep(0.05)
    await rec.aclose()
    assert [len(batch) for batch in store.batches] == [100, 100, 50]
    assert (rec.batches, rec.largest_batch) == (3, 100)


async def test_store_failure_is_retried_and_nothing_is_lost() -> None:
    """A failing store keeps the records waiting; they are written once it answers."""
    store = FakeStore()
    store.failures = 3
    rec = recorder(store)
    for number in range(5):
        await rec.record(delivery(f"k{number}"))
    for _ in range(100):
        if store.batches:
            break
        await asyncio.sleep(0.005)
    await rec.aclose()
    assert sorted(key for batch in store.batches for key in batch) == [f"k{n}" for n in range(5)]


async def test_overflow_drops_the_oldest_records_and_counts_them() -> None:
    """Past max_pending (the store down), the oldest records go, counted, never silently."""
    store = FakeStore()
    store.gate.clear()
    rec = recorder(store, max_pending=3)
    for number in range(5):
        await rec.record(delivery(f"k{number}"))
    assert rec.dropped == 2
    store.gate.set()
    await rec.aclose()
    assert [key for batch in store.batches for key in batch] == ["k2", "k3", "k4"]


async def test_late_duplicates_from_another_process_are_counted() -> None:
    """A key the store already holds (taken by another process) is logged as late."""
    store = FakeStore()
    store.stored.add("elsewhere")
    rec = recorder(store)
    assert await rec.record(delivery("elsewhere")) is True
    await rec.aclose()
    assert rec.late_duplicates == 1


@pytest.mark.parametrize("count", [0, 1])
async def test_aclose_is_safe_when_idle(count: int) -> None:
    """Closing with nothing (or one thing) waiting returns promptly."""
    store = FakeStore()
    rec = recorder(store)
    for number in range(count):
        await rec.record(delivery(f"k{number}"))
    await rec.aclose()
    assert sum(len(batch) for batch in store.batches) == count
