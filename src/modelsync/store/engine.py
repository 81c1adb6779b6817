"""The async engine for a database URL, and the few flags where SQLite and PostgreSQL differ.

Every engine, the store's and the migrations', comes from :func:`create_engine`, so both see the
same connection set-up:

* JSON is (de)serialized by orjson (``json_serializer`` / ``json_deserializer``).
* **SQLite** connections are :mod:`~modelsync.store.sqlite_driver`'s prefetching aiosqlite
  connections (one trip to the driver thread per statement instead of four). They run in WAL
  mode with ``synchronous=NORMAL`` (durable across a process crash; a power loss may drop the
  last commits, never corrupt), a ``busy_timeout`` and foreign keys on. The driver opens each
  write transaction with ``BEGIN IMMEDIATE`` (sqlite3's ``isolation_level="IMMEDIATE"``), so a
  writer takes the database's write lock before its first change and waits (``busy_timeout``)
  rather than failing later on a lock upgrade; that happens inside the driver call of the first
  statement, with no trip of its own. Plain ``SELECT`` statements run outside a transaction,
  each on its own consistent snapshot; the store reads what must agree in one statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from modelsync.errors import ConfigError
from modelsync.store import sqlite_driver

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite writer waits for another one before ``database is locked``."""


@dataclass(frozen=True, slots=True)
class DialectFlags:
    """What the store does differently on one database (see ``sql.py``)."""

    name: str
    single_writer: bool
    """SQLite: one write connection per store, writes serialized in process (the file has one
    writer at a time anyway); PostgreSQL: a pooled connection per write transaction."""
    skip_locked: bool
    """PostgreSQL: ``claim_due`` selects due rows ``FOR UPDATE SKIP LOCKED`` before leasing them,
    and a run that will touch models locks its gateway row first (``FOR UPDATE``)."""
    migrates_on_open: bool
    """SQLite: ``open()`` creates and upgrades the database itself. PostgreSQL: ``open()`` only
    checks that the schema is at head (``modelsync db upgrade`` migrates)."""
    sort_returned_seqs: bool
    """SQLite: ``INSERT INTO changes ... RETURNING seq`` runs as plain multi-row batches and the
    seqs are sorted (the single writer assigns them in VALUES order); PostgreSQL: SQLAlchemy's
    ``sort_by_parameter_order`` batches with a sentinel (on SQLite it would go row by row)."""


SQLITE = DialectFlags(
    "sqlite", single_writer=True, skip_locked=False, migrates_on_open=True, sort_returned_seqs=True
)
POSTGRESQL = DialectFlags(
    "postgresql",
    single_writer=False,
    skip_locked=True,
    migrates_on_open=False,
    sort_returned_seqs=False,
)


ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def database_url(url: str | URL) -> URL:
    """The URL with its async driver (``sqlite://`` becomes ``sqlite+aiosqlite://``)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(f"not a database URL: {url!r}") from exc
    drivername = ASYNC_DRIVERS.get(parsed.get_backend_name())
    if drivername is None:
        raise ConfigError(
            f"unsupported database {parsed.get_backend_name()!r}: "
            "use sqlite+aiosqlite:///path or postgresql+asyncpg://..."
        )
    return parsed.set(drivername=drivername)


def dialect_flags(url: str | URL) -> DialectFlags:
    """The flags of the URL's database."""
    return SQLITE if database_url(url).get_backend_name() == "sqlite" else POSTGRESQL


def is_memory(url: URL) -> bool:
    """Whether the URL names an in-memory SQLite database (one connection serves everything)."""
    return url.get_backend_name() == "sqlite" and (url.database or "") in ("", ":memory:")


def json_dumps(value: Any) -> str:
    """orjson, as text (what both drivers' JSON columns take)."""
    return orjson.dumps(value).decode()


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
        "PRAGMA foreign_keys=ON",
    ):
        cursor.execute(pragma)
    cursor.close()


def create_engine(url: str | URL, *, echo: bool = False) -> AsyncEngine:
    """An async engine for ``sqlite+aiosqlite`` or ``postgresql+asyncpg`` set up as described."""
    parsed = database_url(url)
    flags = dialect_flags(parsed)
    options: dict[str, Any] = {
        "echo": echo,
        "json_serializer": json_dumps,
        "json_deserializer": orjson.loads,
    }
    if flags is SQLITE:
        options["async_creator"] = sqlite_driver.connector(
            parsed, isolation_level="IMMEDIATE", timeout=SQLITE_BUSY_TIMEOUT_MS / 1000
        )
        # Each aiosqlite connection is a thread: a fixed pool, no overflow connections opened
        # and closed (a thread started and joined) under a burst of reads.
        if not is_memory(parsed):  # ``:memory:`` has its one shared connection (StaticPool)
            options.update(pool_size=8, max_overflow=0)
    engine = create_async_engine(parsed, **options)
    if flags is SQLITE:
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    return engine
