"""The store's connections: the engine, SQLite's one writer, and transactions raising StoreError.

:class:`SqlDatabase` opens the engine (:func:`modelsync.store.engine.create_engine`), migrates or
checks the schema (``migrates_on_open``), and hands out connections:

* :meth:`SqlDatabase.write` is a transaction committed on exit. On SQLite (``single_writer``) it
  is always the same held connection, taken under an ``asyncio.Lock``: SQLite has one writer per
  file anyway, and the held connection saves a pool checkout and reset on every write. On
  PostgreSQL it is a pooled connection.
* :meth:`SqlDatabase.read` is a pooled connection (WAL: readers never wait for the writer), but
  on ``:memory:``, where the one connection serves both.
* :meth:`SqlDatabase.fetch` runs one statement on the read lane
  (:mod:`~modelsync.store.read_lane`): the API's reads, rows as the driver returns them.

Every SQLAlchemy or OS error inside either becomes :class:`~modelsync.errors.StoreError`.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.expression import ClauseElement

from modelsync.errors import StoreError
from modelsync.store.engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    DialectFlags,
    create_engine,
    database_url,
    dialect_flags,
    is_memory,
)
from modelsync.store.opening import check_sqlite_path, open_error
from modelsync.store.read_lane import (
    ReadLane,
    SqliteReadLane,
    compile_read,
)

MIGRATION_FILE = re.compile(r"^(\d{4})_\w+\.py$")
"""Migrations are named ``NNNN_what.py`` with revision ``"NNNN"`` (tests/store pins that)."""


@functools.cache
def quick_head() -> str | None:
    """The newest migration's revision, from the file names alone (no Alembic import)."""
    folder = Path(__file__).with_name("migrations") / "versions"
    numbers = [m.group(1) for m in map(MIGRATION_FILE.match, os.listdir(folder)) if m]
    return max(numbers, default=None)


async def _stamped(connection: AsyncConnection) -> str | None:
    """The revision stamped in the database, or None (never migrated, or no such table)."""
    try:
        result = await connection.exec_driver_sql("SELECT version_num FROM alembic_version")
        rows = result.all()
    except SQLAlchemyError:
        await connection.rollback()
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


class SqlDatabase:
    """One database's engine and connections, opened once and closed once."""

    def __init__(self, url: str, *, echo: bool = False, auto_upgrade: bool = False) -> None:
        self.url = database_url(url)
        self.flags: DialectFlags = dialect_flags(self.url)
        self._echo = echo
        self._auto_upgrade = auto_upgrade or self.flags.migrates_on_open
        self._engine: AsyncEngine | None = None
        self._writer: AsyncConnection | None = None
        self._shared_reads = False
        self._lane: ReadLane | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Connect, and migrate (or check) the schema; a second call does nothing."""
        if self._engine is not None:
            return
        check_sqlite_path(self.url)
        engine = create_engine(self.url, echo=self._echo)
        try:
            await self._migrate(engine)
            if self.flags.single_writer:
                self._writer = await engine.connect()
        except BaseException:
            await engine.dispose()
            raise
        self._engine = engine
        self._shared_reads = is_memory(self.url)
        if self.flags.name == "postgresql":
            from modelsync.store.read_lane_pg import PostgresReadLane  # noqa: PLC0415 - asyncpg only when needed

            self._lane = PostgresReadLane(self.url)
        elif not self._shared_reads:
            self._lane = SqliteReadLane(self.url, busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS)

    async def _migrate(self, engine: AsyncEngine) -> None:
        try:
            async with engine.connect() as connection:
                if await _stamped(connection) == quick_head():
                    return  # at head: Alembic (a fifth of a CLI command's time) is not loaded
            from modelsync.store import migrate  # noqa: PLC0415 - only to migrate

            head = migrate.head_revision()
            async with engine.connect() as connection:
                revision = await connection.run_sync(migrate.current_on)
                if revision == head:
                    return
                if not self._auto_upgrade:
                    raise StoreError(
                        f"the database schema is at {revision or 'no revision'}, this modelsync "
                        f"needs {head}: run `modelsync db upgrade` first"
                    )
                await connection.run_sync(migrate.upgrade_on)
                await connection.commit()
        except (SQLAlchemyError, OSError) as exc:
            raise open_error(self.url, exc) from exc

    async def close(self) -> None:
        """Close the writer, the read lane and every pooled connection; safe to call twice."""
        writer, engine, lane = self._writer, self._engine, self._lane
        self._writer = self._engine = self._lane = None
        if lane is not None:
            await lane.close()
        if writer is not None:
            await writer.close()
        if engine is not None:
            await engine.dispose()

    @asynccontextmanager
    async def write(self, action: str) -> AsyncIterator[AsyncConnection]:
        """A write transaction, committed on exit (rolled back on any exception)."""
        try:
            if self._writer is not None:
                async with self._lock, self._writer.begin():
                    yield self._writer
            else:
                async with self._require_engine().begin() as connection:
                    yield connection
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"cannot {action}: {exc}") from exc

    @asynccontextmanager
    async def read(self, action: str) -> AsyncIterator[AsyncConnection]:
        """A connection for reading."""
        try:
            if self._shared_reads and self._writer is not None:
                async with self._lock, self._writer.begin():
                    yield self._writer
            else:
                async with self._require_engine().connect() as connection:
                    yield connection
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"cannot {action}: {exc}") from exc

    async def fetch(
        self, statement: ClauseElement, params: Mapping[str, Any], *, action: str
    ) -> list[Sequence[Any]]:
        """The statement's rows as the driver returns them, read on the read lane (or through
        the one connection of an in-memory database)."""
        if self._lane is not None:
            return await self._lane.fetch(statement, params, action=action)
        compiled = compile_read(statement, self._require_engine().dialect)
        arguments = tuple(compiled.arguments(params))
        async with self.read(action) as connection:
            return list((await connection.exec_driver_sql(compiled.sql, arguments)).all())

    def _require_engine(self) -> AsyncEngine:
        if self._engine is None:
            raise StoreError("the store is not open")
        return self._engine
