"""A big apply never locks other SQLite writers out: its rows are staged in short transactions.

Another process writes the same file in a loop (busy timeout 5 s, half modelsync's) while this
one applies a 20,000-model plan. Every write of the other process gets through, and no write
transaction of the apply holds the file for most of the apply (one transaction for all of it,
before): the Python work (rows, JSON) happens in staging chunks of 2,000 rows, each its own
short transaction, and the one publishing transaction only copies them table to table.
(``benchmarks/bench_apply_lock.py`` measures the same at the 100,000-model bound.)
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from modelsync.store.sql import SqlStore
from store.factories import T0, at, model, plan_for, registration, run_record

MODELS = 20_000
OTHER_WRITER = """
import sqlite3, sys, time, pathlib
path, stop = sys.argv[1], pathlib.Path(sys.argv[2])
connection = sqlite3.connect(path, timeout=5.0, isolation_level=None)
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
    time.sleep(0.005)
print(writes, locked, round(longest, 3), flush=True)
"""


async def test_a_big_apply_never_locks_another_writer_out(tmp_path: Path) -> None:
    """20,000 models applied while another process writes: no 'database is locked', and no
    write transaction of the apply holds the file for most of it."""
    path, stop = tmp_path / "modelsync.db", tmp_path / "stop"
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

    store._write = timed  # type: ignore[method-assign]  # what every store write goes through
    try:
        await store.register_gateways([registration("big"), registration("other")])
        plan = await plan_for(store, "big", [model("big", n) for n in range(MODELS)])
        grant = await store.acquire_lease("big", "applier", ttl_s=300)
        assert grant is not None
        writer = await asyncio.create_subprocess_exec(
            sys.executable, "-c", OTHER_WRITER, str(path), str(stop), stdout=subprocess.PIPE
        )
        assert writer.stdout is not None
        ready = await asyncio.wait_for(writer.stdout.readline(), timeout=30)
        assert ready.decode().strip() == "ready"
        held.clear()
        started = time.monotonic()
        run = run_record("big", started=T0, total_models=MODELS)
        result = await store.finish_run(run, plan, lease=grant.lease, now=at(1))
        applied_in = time.monotonic() - started
        stop.touch()
        tally = await asyncio.wait_for(writer.stdout.readline(), timeout=30)
        writes, locked, longest = tally.decode().split()
        await asyncio.wait_for(writer.wait(), timeout=30)
    finally:
        await store.close()
    assert len(result.changes) == MODELS
    assert (int(locked), int(writes) > 0) == (0, True)
    assert len(held) > MODELS * 2 // 2_000  # the staging chunks, the publishing, the clearing
    assert max(held) < applied_in * 0.6, (max(held), applied_in, float(longest))
