"""A big apply on SQLite with another process writing the same file: how long each of the
apply's write transactions holds the lock, and what the other writer sees.

What ``benchmarks/bench_apply_lock.py`` (100,000 models, figures) and
``tests/reliability/test_sqlite_contention.py`` (20,000 models, assertions) both run: a fresh
store registers the applying gateway and ``other``, plans the snapshot as all added, takes the
gateway's lease, starts the other writer (a loop of ``BEGIN IMMEDIATE``; an ``UPDATE`` of
``other``; ``COMMIT``, with its own busy timeout) and applies the plan through
``SqlStore.finish_run`` with every store write transaction timed.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from modelsync.diff import diff_catalogs
from modelsync.domain import ChangeSource, Model, RunOutcome
from modelsync.guard import GuardPolicy, plan_sync
from modelsync.store.base import GatewayRegistration, RunRecord, RunResult
from modelsync.store.sql import SqlStore

OTHER_WRITER = """
import sqlite3, sys, time, pathlib
path, stop = sys.argv[1], pathlib.Path(sys.argv[2])
timeout, pause = float(sys.argv[3]), float(sys.argv[4])
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
    time.sleep(pause)
print(writes, locked, round(longest, 3), flush=True)
"""
"""The other process: writes until the stop file exists, then prints its tally."""
WAIT_S = 60.0
"""The most the probe waits for the other writer to start or to report (never forever)."""


@dataclass(frozen=True, slots=True)
class LockProbe:
    """What one apply beside another writer measured."""

    applied_s: float
    """The whole ``finish_run``."""
    held_s: list[float]
    """Each write transaction of the apply, in order."""
    writes: int
    """The other writer's committed writes during the apply."""
    locked: int
    """Its ``database is locked`` failures (each after its busy timeout)."""
    longest_wait_s: float
    """Its longest single write, waiting included."""
    result: RunResult


async def apply_beside_a_writer(
    path: Path,
    snapshot: Sequence[Model],
    *,
    started_at: datetime,
    busy_timeout_s: float,
    pause_s: float = 0.005,
) -> LockProbe:
    """Apply ``snapshot`` (one gateway's models, all new) to a fresh SQLite file at ``path``
    while another process writes it; the stop file is ``path`` with ``.stop`` appended."""
    gateway = snapshot[0].gateway
    stop = path.with_name(path.name + ".stop")
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
                for name in (gateway, "other")
            ]
        )
        current = {m.gateway_model_id: m for m in snapshot}
        plan = plan_sync(
            gateway,
            diff_catalogs({}, current),
            total_models=len(current),
            policy=GuardPolicy(max_models=len(current)),
        )
        grant = await store.acquire_lease(gateway, "lock-probe", ttl_s=3600)
        if grant is None:
            raise RuntimeError(f"could not take {gateway}'s lease on a fresh store")
        writer = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            OTHER_WRITER,
            str(path),
            str(stop),
            str(busy_timeout_s),
            str(pause_s),
            stdout=subprocess.PIPE,
        )
        assert writer.stdout is not None
        try:
            ready = await asyncio.wait_for(writer.stdout.readline(), timeout=WAIT_S)
            if ready.decode().strip() != "ready":
                raise RuntimeError("the other writer did not start")
            store._write = timed  # every store write goes through it
            run = RunRecord(
                gateway=gateway,
                trigger=ChangeSource.MANUAL,
                outcome=RunOutcome.CHANGED,
                started_at=started_at,
                finished_at=started_at + timedelta(seconds=1),
                total_models=len(current),
            )
            began = time.monotonic()
            result = await store.finish_run(
                run, plan, lease=grant.lease, now=started_at + timedelta(seconds=1)
            )
            applied = time.monotonic() - began
        finally:
            stop.touch()
            tally = await asyncio.wait_for(writer.stdout.readline(), timeout=WAIT_S)
            await asyncio.wait_for(writer.wait(), timeout=WAIT_S)
    finally:
        await store.close()
    writes, locked, longest = tally.decode().split()
    return LockProbe(applied, held, int(writes), int(locked), float(longest), result)
