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
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from modelsync.diff import diff_catalogs
from modelsync.domain import ChangeSource, Model, Pricing, RunOutcome
from modelsync.guard import GuardPolicy, plan_sync
from modelsync.store.base import GatewayRegistration, RunRecord
from modelsync.store.engine import SQLITE_BUSY_TIMEOUT_MS
from modelsync.store.sql import SqlStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
OTHER_WRITER = """
import sqlite3, sys, time, pathlib
path, stop, timeout = sys.argv[1], pathlib.Path(sys.argv[2]), float(sys.argv[3])
connection = sqlite3.connect(path, timeout=timeout, isolation_level=None)
longest, writes, locked = 0.0, 0, 0
print("ready", flush=True)
while not stop.exists():
    started = time.monotonic()
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("UPDATE gateways SET interval_s = interval_s WHERE name = 'other'")
        connection.execute("COMMIT")
        writes += 1
    except sqlite3.OperationalError:
        locked += 1
    longest = max(longest, time.monotonic() - started)
    time.sleep(0.01)
print(writes, locked, round(longest, 3), flush=True)
"""


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


async def apply(folder: Path, snapshot: list[Model]) -> tuple[float, float, str]:
    """Apply the snapshot with another writer running; total, longest transaction, its tally."""
    path, stop = folder / "modelsync.db", folder / "stop"
    store = SqlStore(f"sqlite+aiosqlite:///{path}")
    await store.open()
    held: list[float] = []
    write = store.database.write

    @asynccontextmanager
    async def timed(action: str) -> AsyncIterator[Any]:
        async with write(action) as connection:
            began = time.monotonic()
            yield connection
        held.append(time.monotonic() - began)

    try:
        await store.register_gateways(
            [
                GatewayRegistration(name=name, tier="high", interval_s=900, enabled=True)
                for name in ("big", "other")
            ]
        )
        current = {m.gateway_model_id: m for m in snapshot}
        plan = plan_sync(
            "big",
            diff_catalogs({}, current),
            total_models=len(current),
            policy=GuardPolicy(max_models=len(current)),
        )
        grant = await store.acquire_lease("big", "bench", ttl_s=3600)
        assert grant is not None
        writer = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            OTHER_WRITER,
            str(path),
            str(stop),
            str(SQLITE_BUSY_TIMEOUT_MS / 1000),
            stdout=subprocess.PIPE,
        )
        assert writer.stdout is not None
        await writer.stdout.readline()
        store._write = timed  # every store write goes through it
        run = RunRecord(
            gateway="big",
            trigger=ChangeSource.MANUAL,
            outcome=RunOutcome.CHANGED,
            started_at=T0,
            finished_at=T0 + timedelta(seconds=1),
            total_models=len(current),
        )
        started = time.monotonic()
        await store.finish_run(run, plan, lease=grant.lease, now=T0)
        total = time.monotonic() - started
        stop.touch()
        tally = (await writer.stdout.readline()).decode().strip()
        await writer.wait()
    finally:
        await store.close()
    return total, max(held), tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100_000)
    args = parser.parse_args()
    snapshot = models(args.models)
    with tempfile.TemporaryDirectory(prefix="bench-apply-lock-") as root:
        folder = Path(root)
        floor = floor_seconds(folder, snapshot)
        total, longest, tally = asyncio.run(apply(folder, snapshot))
    writes, locked, waited = tally.split()
    busy = SQLITE_BUSY_TIMEOUT_MS / 1000
    print(f"{args.models:,} models added in one apply on SQLite (this machine shared)")
    print(f"  floor: one bare INSERT transaction of their JSON   {floor:6.2f} s")
    print(f"  apply, in all                                      {total:6.2f} s")
    print(
        f"  longest write transaction of the apply             {longest:6.2f} s  "
        f"x{longest / floor:.1f} of the floor, {longest / busy:.0%} of the {busy:g} s busy timeout"
    )
    print(
        f"  the other writer: {writes} writes, {locked} 'database is locked', "
        f"longest wait {float(waited):.2f} s"
    )


if __name__ == "__main__":
    main()
