"""The prefetching aiosqlite connection under SQLAlchemy: every way of reading rows still works."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from modelsync.store.engine import create_engine
from modelsync.store.sqlite_driver import PrefetchingConnection, PrefetchingCursor

ROWS = 250


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A SQLite engine with a table of ``ROWS`` numbers."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with engine.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE t (n INTEGER PRIMARY KEY, label TEXT UNIQUE)")
        await conn.exec_driver_sql(
            "INSERT INTO t (n, label) VALUES (?, ?)", [(i, f"n{i}") for i in range(ROWS)]
        )
    yield engine
    await engine.dispose()


async def test_the_engine_uses_the_prefetching_connection(engine: AsyncEngine) -> None:
    """Pooled connections are PrefetchingConnections, with WAL and the busy timeout set."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.driver_connection, PrefetchingConnection)
        assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 10_000
        assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1


async def test_buffered_and_streamed_results(engine: AsyncEngine) -> None:
    """All rows, first row, partitions of a streamed result, and an empty result."""
    select = sa.text("SELECT n FROM t ORDER BY n")
    async with engine.connect() as conn:
        assert (await conn.execute(select)).scalars().all() == list(range(ROWS))
        assert (await conn.execute(select)).first() == (0,)
        streamed = await conn.stream(select)
        sizes = [len(part) async for part in streamed.partitions(100)]
        assert sizes == [100, 100, 50]
        empty = await conn.execute(sa.text("SELECT n FROM t WHERE n < 0"))
        assert empty.all() == []


async def test_rowcount_lastrowid_and_errors(engine: AsyncEngine) -> None:
    """Writes report rowcount and lastrowid; a constraint violation is IntegrityError."""
    async with engine.begin() as conn:
        updated = await conn.exec_driver_sql("UPDATE t SET label = label || '!' WHERE n < 10")
        assert updated.rowcount == 10
        inserted = await conn.exec_driver_sql("INSERT INTO t (label) VALUES ('new')")
        assert inserted.lastrowid == ROWS
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.exec_driver_sql("INSERT INTO t (label) VALUES ('n20')")


async def test_connections_work_side_by_side(engine: AsyncEngine) -> None:
    """Several pooled connections read at once while another writes."""

    async def read() -> int:
        async with engine.connect() as conn:
            return len((await conn.execute(sa.text("SELECT n FROM t"))).all())

    async def write() -> None:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("INSERT INTO t (label) VALUES (NULL)")

    counts = await asyncio.gather(read(), read(), write(), read(), write(), read())
    assert {counts[i] for i in (0, 1, 3, 5)} <= {ROWS, ROWS + 1, ROWS + 2}
    assert await read() == ROWS + 2


async def test_cursor_fetch_methods_serve_the_prefetched_rows(engine: AsyncEngine) -> None:
    """fetchone and fetchmany read from the rows execute brought back."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, PrefetchingConnection)
        cursor = await driver.cursor()
        assert isinstance(cursor, PrefetchingCursor)
        await cursor.execute("SELECT n FROM t WHERE n < 5 ORDER BY n")
        assert await cursor.fetchone() == (0,)
        assert await cursor.fetchmany(2) == [(1,), (2,)]
        assert await cursor.fetchall() == [(3,), (4,)]
        assert await cursor.fetchone() is None
        await cursor.execute("UPDATE t SET label = label WHERE n = 0")
        assert await cursor.fetchall() == []
        await cursor.close()
