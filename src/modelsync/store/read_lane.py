"""The read lane: the API's reads on driver connections of their own, past SQLAlchemy's layers.

A read of the JSON API is one statement whose database work takes tens of microseconds. Through
SQLAlchemy's async engine the same read also pays a pool checkout and a reset on return (a
rollback: one more trip to the driver's thread or the server), the greenlet adaptation and the
per-row result processing, several times the query itself. The lane keeps a few driver
connections (sqlite3's, or asyncpg's: :mod:`~modelsync.store.read_lane_pg`) for reads only,
each taken by one task at a time from a queue, and runs each statement as its dialect's compiled
SQL with positional parameters: one trip to the database, rows back as the driver gives them
(raw text, numbers, asyncpg's ``datetime``).

* Statements are SQLAlchemy Core (``queries.py``), compiled once per statement for the lane's
  dialect; their ``p_*`` parameters bind by name.
* SQLite: the connections are read-only (``PRAGMA query_only``), outside any transaction, so each
  statement reads one consistent snapshot (WAL), on the event loop (:class:`SqliteReadLane`).
  PostgreSQL: each statement is its own transaction (asyncpg autocommit), prepared once per
  connection by asyncpg's statement cache, bounded by ``statement_timeout_s``; a connection that
  fails is closed and replaced by the next read.
* An in-memory SQLite database has one connection: the caller reads through it instead.
* Every driver error surfaces as :class:`~modelsync.errors.StoreError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from modelsync.errors import StoreError
from modelsync.store import sqlite_driver

READ_CONNECTIONS = 4
"""Driver connections per lane: enough for the reads in flight at once (PostgreSQL's server
works on several while the loop writes answers), few enough to leave the pool its own."""
DRIVER_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, OSError)
"""The errors of SQLite's driver (and the OS) a lane turns into StoreError; PostgreSQL's lane
(:mod:`~modelsync.store.read_lane_pg`, imported only for PostgreSQL: asyncpg is 5 MB of a CLI
sync's memory) adds asyncpg's."""


@dataclass(frozen=True, slots=True)
class CompiledRead:
    """A statement as its dialect's SQL, its parameters' order and their default values."""

    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[name] if name in params else self.defaults[name] for name in self.names]


def compile_read(statement: ClauseElement, dialect: Dialect) -> CompiledRead:
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)  # a SELECT compiles to SQL
    names = tuple(compiled.positiontup or ())
    return CompiledRead(compiled.string, names, dict(compiled.params))


class ReadLane(ABC):
    """Runs compiled reads on the lane's own driver connections."""

    dialect: Dialect
    driver_errors: tuple[type[Exception], ...] = DRIVER_ERRORS

    def __init__(self, size: int) -> None:
        self._size = size
        self._idle: asyncio.LifoQueue[Any] = asyncio.LifoQueue()
        self._opened = 0
        self._compiled: dict[ClauseElement, CompiledRead] = {}

    async def fetch(
        self, statement: ClauseElement, params: Mapping[str, Any], *, action: str
    ) -> list[Sequence[Any]]:
        """The statement's rows, as the driver returns them."""
        compiled = self._compiled.get(statement)
        if compiled is None:
            compiled = self._compiled[statement] = compile_read(statement, self.dialect)
        arguments = compiled.arguments(params)
        connection = await self._acquire(action)
        try:
            rows = await self._fetch(connection, compiled.sql, arguments)
        except self.driver_errors as exc:
            await self._discard(connection)
            raise StoreError(f"cannot {action}: {exc}") from exc
        except BaseException:
            await self._discard(connection)
            raise
        self._idle.put_nowait(connection)
        return rows

    async def _acquire(self, action: str) -> Any:
        if self._idle.empty() and self._opened < self._size:
            self._opened += 1
            try:
                return await self._connect()
            except self.driver_errors as exc:
                self._opened -= 1
                raise StoreError(f"cannot {action}: {exc}") from exc
            except BaseException:
                self._opened -= 1
                raise
        return await self._idle.get()

    async def _discard(self, connection: Any) -> None:
        """Close a connection that failed (a later read opens a new one)."""
        self._opened -= 1
        with contextlib.suppress(*self.driver_errors):  # it was failing already
            await self._close(connection)

    async def close(self) -> None:
        """Close every idle connection (reads in flight close theirs when they fail)."""
        while not self._idle.empty():
            await self._discard(self._idle.get_nowait())

    @abstractmethod
    async def _connect(self) -> Any: ...

    @abstractmethod
    async def _fetch(self, connection: Any, sql: str, arguments: list[Any]) -> list[Any]: ...

    @abstractmethod
    async def _close(self, connection: Any) -> None: ...


class SqliteReadLane(ReadLane):
    """Read-only sqlite3 connections, queried on the event loop; a busy database off it.

    A served read is a bounded indexed query (a page, an id's offers, a search's matches) that
    SQLite answers in tens to hundreds of microseconds, less than handing it to a thread and
    back costs (a queue, a wake-up, the GIL changing hands twice). So the lane runs it inline.
    In WAL mode a reader does not wait for the writer; it waits only in rare moments (a WAL
    index being rebuilt): such a read fails at once (``busy_timeout`` 0 inline) and is run
    again on a worker thread that waits up to ``busy_timeout_ms``, never on the loop.
    """

    dialect = SQLiteDialect_aiosqlite()

    def __init__(self, url: URL, *, busy_timeout_ms: int, size: int = READ_CONNECTIONS) -> None:
        super().__init__(size)
        self._busy_timeout_ms = busy_timeout_ms
        self._create = sqlite_driver.sqlite_connect(url, isolation_level=None, timeout=0)

    async def _connect(self) -> sqlite3.Connection:
        connection = self._create()
        connection.execute("PRAGMA query_only=ON")
        return connection

    async def _fetch(self, connection: Any, sql: str, arguments: list[Any]) -> list[Any]:
        try:
            rows: list[Any] = connection.execute(sql, arguments).fetchall()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
        else:
            return rows
        return await asyncio.to_thread(self._wait_and_fetch, connection, sql, arguments)

    def _wait_and_fetch(
        self, connection: sqlite3.Connection, sql: str, arguments: list[Any]
    ) -> list[Any]:
        """On a worker thread: the read again, waiting for the database up to the timeout."""
        connection.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
        try:
            return connection.execute(sql, arguments).fetchall()
        finally:
            connection.execute("PRAGMA busy_timeout=0")

    async def _close(self, connection: Any) -> None:
        connection.close()
