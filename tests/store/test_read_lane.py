"""The read lane: errors as StoreError, a lost connection replaced, and a busy SQLite database
waited for off the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import column, select, table

from modelsync.errors import StoreError
from modelsync.store import queries
from modelsync.store.engine import database_url
from modelsync.store.read_lane import SqliteReadLane
from modelsync.store.sql import SqlStore

from .conftest import asyncpg_dsn

VERSION = queries.CATALOG_VERSION


async def test_a_failing_read_is_a_store_error_and_the_lane_goes_on(store: SqlStore) -> None:
    """A statement the database refuses surfaces as StoreError; the next read works."""
    missing = select(table("no_such_table", column("x")))
    with pytest.raises(StoreError, match="cannot read something"):
        await store.database.fetch(missing, {}, action="read something")
    assert await store.database.fetch(select(VERSION), {}, action="read") == [(0,)]


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_lost_postgres_connection_is_replaced(store: SqlStore, db_url: str) -> None:
    """The server closing the lane's connection fails that read only; the next one reconnects."""
    assert await store.database.fetch(select(VERSION), {}, action="read") == [(0,)]
    admin = await asyncpg.connect(asyncpg_dsn(db_url), timeout=5)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    with pytest.raises(StoreError):
        await store.database.fetch(select(VERSION), {}, action="read")
    assert await store.database.fetch(select(VERSION), {}, action="read") == [(0,)]


async def test_a_busy_sqlite_database_is_waited_for_off_the_loop(tmp_path: Path) -> None:
    """While another connection holds the file exclusively (a rollback-journal database: in WAL
    a reader is almost never refused), a read waits on a worker thread, the loop turning, and
    answers once the lock is gone."""
    path = tmp_path / "plain.db"
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE t (x INTEGER)")
        setup.execute("INSERT INTO t VALUES (7)")
    setup.close()
    lane = SqliteReadLane(database_url(f"sqlite:///{path}"), busy_timeout_ms=10_000)
    statement = select(table("t", column("x")))
    assert await lane.fetch(statement, {}, action="read") == [(7,)]
    locked, release = threading.Event(), threading.Event()

    def hold_the_file() -> None:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(timeout=10)
        holder.execute("COMMIT")
        holder.close()

    holder = threading.Thread(target=hold_the_file)
    holder.start()
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    try:
        assert await asyncio.to_thread(locked.wait, 10)
        ticking = asyncio.create_task(tick())
        reading = asyncio.create_task(lane.fetch(statement, {}, action="read"))
        await asyncio.sleep(0.2)
        assert not reading.done()
        assert ticks >= 10, "the loop stalled while the read waited"
        release.set()
        assert await asyncio.wait_for(reading, timeout=10) == [(7,)]
        ticking.cancel()
    finally:
        release.set()
        holder.join(timeout=10)
        await lane.close()
