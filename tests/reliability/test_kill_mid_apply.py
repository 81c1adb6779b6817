"""SIGKILL a process in the middle of applying a plan to SQLite: the next open sees a whole catalog.

The child is this file run as a script. It applies generation after generation of a 3,000-model
catalog (every model renamed each time: a plan big enough to be staged ahead in short
transactions, then published in one); the test kills it with SIGKILL, either while it is paused
inside the publishing transaction (models and changes written, nothing committed) or at a random
moment (staging, between transactions, or publishing), then checks that the database holds
exactly one generation, that the versions, runs and changes agree with it, and that a further
run (once the dead child's one-second lease lapses, by the database's clock) completes.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from modelsync.diff import diff_catalogs
from modelsync.domain import ChangeSource, Model, RunOutcome
from modelsync.guard import GuardPolicy, plan_sync
from modelsync.store.base import GatewayRegistration, RunRecord, RunResult
from modelsync.store.sql import SqlStore

MODELS = 3000
GATEWAY = "openrouter"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
MID_APPLY = "mid-apply"
CHILD_LEASE_S = 1.0
"""The child's lease: short, so the survivor takes over soon after the SIGKILL."""


def url(path: Path | str) -> str:
    """The store URL of a SQLite file."""
    return f"sqlite+aiosqlite:///{path}"


def generation(gen: int) -> dict[str, Model]:
    """The whole catalog of one generation: every model's name carries the generation."""
    models = (
        Model(gateway=GATEWAY, gateway_model_id=f"org/m-{i}", id=f"org/m-{i}", name=f"M {i} {gen}")
        for i in range(MODELS)
    )
    return {m.gateway_model_id: m for m in models}


async def apply_generation(
    store: SqlStore, gen: int, *, now: datetime, owner: str, ttl_s: float = 60
) -> RunResult:
    """One leased run that turns the stored catalog into generation ``gen`` (waiting up to 10 s
    for a dead holder's lease to lapse)."""
    deadline = time.monotonic() + 10
    grant = await store.acquire_lease(GATEWAY, owner, ttl_s=ttl_s)
    while grant is None and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        grant = await store.acquire_lease(GATEWAY, owner, ttl_s=ttl_s)
    assert grant is not None, "the gateway stays leased"
    stored = await store.load_catalog(GATEWAY)
    diff = diff_catalogs(stored.entries, generation(gen))
    plan = plan_sync(GATEWAY, diff, total_models=MODELS, policy=GuardPolicy())
    run = RunRecord(
        gateway=GATEWAY,
        trigger=ChangeSource.POLL,
        outcome=RunOutcome.CHANGED,
        started_at=now,
        finished_at=now,
    )
    return await store.finish_run(run, plan, lease=grant.lease, now=now)


async def child(path: str, mode: str) -> None:
    """Apply generations 1, 2, ... forever (``pause``: stop inside the first apply)."""
    if mode == "pause":
        publish = SqlStore._publish

        async def pause(self: SqlStore, *args: Any, **kwargs: Any) -> Any:
            seqs = await publish(self, *args, **kwargs)  # written, in the open transaction
            print(MID_APPLY, flush=True)
            await asyncio.sleep(120)  # killed here
            return seqs

        SqlStore._publish = pause  # type: ignore[method-assign]
    store = SqlStore(url(path))
    await store.open()
    gen = 1
    while True:
        now = T0 + timedelta(seconds=gen)
        await apply_generation(store, gen, now=now, owner="child", ttl_s=CHILD_LEASE_S)
        print(f"applied {gen}", flush=True)
        gen += 1


def run_child_until_killed(path: Path, mode: str, delay: float) -> list[str]:
    """Start the child, SIGKILL it once it paused (or ``delay`` s after its first apply)."""
    lines: list[str] = []
    with subprocess.Popen(
        [sys.executable, __file__, str(path), mode],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    ) as process:
        watchdog = threading.Timer(60, process.kill)
        watchdog.start()
        try:
            assert process.stdout is not None
            lines.append(process.stdout.readline().strip())
            if mode == "random":
                time.sleep(delay)
            os.kill(process.pid, signal.SIGKILL)
            lines.extend(process.stdout.read().splitlines())
        finally:
            watchdog.cancel()
    assert process.returncode == -signal.SIGKILL, lines
    return lines


async def check_whole(path: Path) -> int:
    """The catalog is one whole generation, and everything else agrees; returns it."""
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store = SqlStore(url(path))
    await store.open()
    try:
        catalog = await store.load_catalog(GATEWAY)
        assert len(catalog.entries) == MODELS
        generations = {int(str(e.fields()["name"]).split()[-1]) for e in catalog.entries.values()}
        assert len(generations) == 1, f"a half-applied catalog: {sorted(generations)}"
        (gen,) = generations
        assert (catalog.version, await store.catalog_version()) == (gen + 1, gen + 1)
        assert len(await store.list_runs(limit=1000)) == gen + 1
        assert len(await store.list_changes(limit=10**6)) == MODELS * (gen + 1)
        state = (await store.gateway_states([GATEWAY]))[0]
        assert (state.version, state.model_count) == (gen + 1, MODELS)
        later = T0 + timedelta(days=1)
        result = await apply_generation(store, gen + 1, now=later, owner="survivor")
        assert (result.catalog_version, len(result.changes)) == (gen + 2, MODELS)
    finally:
        await store.close()
    return gen


async def seed(path: Path) -> None:
    """Generation 0, applied and closed before the child starts."""
    store = SqlStore(url(path))
    await store.open()
    try:
        await store.register_gateways(
            [GatewayRegistration(name=GATEWAY, tier="high", interval_s=900, enabled=True)]
        )
        await apply_generation(store, 0, now=T0, owner="seed")
    finally:
        await store.close()


@pytest.mark.slow
def test_sigkill_inside_the_apply_transaction_leaves_the_old_catalog(tmp_path: Path) -> None:
    """Killed with the models written but not committed: the old catalog, whole, and a next run."""
    path = tmp_path / "modelsync.db"
    asyncio.run(seed(path))
    lines = run_child_until_killed(path, "pause", 0)
    assert lines == [MID_APPLY]
    assert asyncio.run(check_whole(path)) == 0


@pytest.mark.slow
@pytest.mark.parametrize("seed_value", [1, 2, 3])
def test_sigkill_at_a_random_moment_leaves_a_whole_catalog(tmp_path: Path, seed_value: int) -> None:
    """Killed anywhere in a stream of applies: one whole generation, never a mix."""
    path = tmp_path / "modelsync.db"
    asyncio.run(seed(path))
    delay = random.Random(seed_value).uniform(0.0, 0.8)
    lines = run_child_until_killed(path, "random", delay)
    gen = asyncio.run(check_whole(path))
    applied = [int(line.split()[-1]) for line in lines if line.startswith("applied")]
    assert applied, lines
    assert gen in (applied[-1], applied[-1] + 1)


if __name__ == "__main__":
    asyncio.run(child(sys.argv[1], sys.argv[2]))
