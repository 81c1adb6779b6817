"""How long a 100,000-model apply holds SQLite's write lock, and what another writer sees.

A plan adding 100,000 models (the default count bound) is applied to a fresh SQLite file by
``SqlStore.finish_run``, while another process writes the same file in a loop with modelsync's
busy timeout (10 s). Printed: the apply's total time, its longest write transaction (the lock it
holds at once), the other writer's longest wait and failures, and, as the floor measured in the
same run, the time SQLite takes to write the same models' JSON into a bare table in one
transaction (``executemany``, no indexes): the least a one-transaction apply could hold the lock.

    python benchmarks/bench_apply_lock.py [--models 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson

from modelsync.domain import Model, Pricing
from modelsync.store.engine import SQLITE_BUSY_TIMEOUT_MS
from modelsync.sync.lock_probe import LockProbe, apply_beside_a_writer

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def models(count: int) -> list[Model]:
    """``count`` OpenRouter-like models (about 1 KB of JSON each)."""
    return [
        Model(
            gateway="big",
            gateway_model_id=f"Vendor{n % 97}/Model-{n}",
            id=f"vendor{n % 97}/model-{n}",
            name=f"Vendor {n % 97}: Model {n}",
            description=f"Model number {n}, a general-purpose model for chat and tools. " * 2,
            provider_slug=f"vendor{n % 97}",
            context_length=8192 * (1 + n % 16),
            max_output_tokens=4096,
            pricing=Pricing(prompt=Decimal("0.15"), completion=Decimal("0.6")),
            input_modalities=("image", "text"),
            output_modalities=("text",),
            supported_parameters=("max_tokens", "temperature", "tools", "top_p"),
            extra={"created": 1_700_000_000 + n, "architecture": {"tokenizer": "Other"}},
        )
        for n in range(count)
    ]


def floor_seconds(folder: Path, snapshot: list[Model]) -> float:
    """One transaction writing every model's JSON into a bare table: the least lock time."""
    connection = sqlite3.connect(folder / "floor.db", isolation_level=None)
    connection.execute("CREATE TABLE bare (id TEXT, data TEXT)")
    rows = [(m.gateway_model_id, orjson.dumps(m.to_json()).decode()) for m in snapshot]
    started = time.monotonic()
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany("INSERT INTO bare VALUES (?, ?)", rows)
    connection.execute("COMMIT")
    took = time.monotonic() - started
    connection.close()
    return took


async def apply(folder: Path, snapshot: list[Model]) -> LockProbe:
    """Apply the snapshot with another writer running (modelsync's busy timeout, 10 ms apart)."""
    busy = SQLITE_BUSY_TIMEOUT_MS / 1000
    return await apply_beside_a_writer(
        folder / "modelsync.db", snapshot, started_at=T0, busy_timeout_s=busy, pause_s=0.01
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100_000)
    args = parser.parse_args()
    snapshot = models(args.models)
    with tempfile.TemporaryDirectory(prefix="bench-apply-lock-") as root:
        folder = Path(root)
        floor = floor_seconds(folder, snapshot)
        probe = asyncio.run(apply(folder, snapshot))
    total, longest = probe.applied_s, max(probe.held_s)
    busy = SQLITE_BUSY_TIMEOUT_MS / 1000
    print(f"{args.models:,} models added in one apply on SQLite (this machine shared)")
    print(f"  floor: one bare INSERT transaction of their JSON   {floor:6.2f} s")
    print(f"  apply, in all                                      {total:6.2f} s")
    print(
        f"  longest write transaction of the apply             {longest:6.2f} s  "
        f"x{longest / floor:.1f} of the floor, {longest / busy:.0%} of the {busy:g} s busy timeout"
    )
    print(
        f"  the other writer: {probe.writes} writes, {probe.locked} 'database is locked', "
        f"longest wait {probe.longest_wait_s:.2f} s"
    )


if __name__ == "__main__":
    main()
