"""Fixtures of the store's contract suite: a fresh, open SqlStore on SQLite and on PostgreSQL.

PostgreSQL tests run in a database of their own, created for the session and migrated once, and
emptied before each test; when the server is down they skip (locally) or fail (CI).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from conftest import POSTGRES_URL, service_unavailable
from modelsync.store import migrate
from modelsync.store.sql import SqlStore

from .factories import at, model, registration, sync

TABLES = (
    "gateways, models, changes, sync_runs, webhook_deliveries, processes, webhook_outbox, "
    "outbox_cursor, reference_catalogs"
)
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
StoreFactory = Callable[[], Awaitable[SqlStore]]


def asyncpg_dsn(url: str) -> str:
    """The plain libpq DSN of a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def admin_execute(*statements: str) -> None:
    """Run statements on the server's default database (CREATE/DROP DATABASE)."""
    connection = await asyncpg.connect(asyncpg_dsn(POSTGRES_URL), timeout=5)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def new_postgres_database() -> str:
    """Create an empty database on the test server; returns its SQLAlchemy URL."""
    name = f"modelsync_store_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(admin_execute(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        service_unavailable("PostgreSQL", exc)
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    """Drop a database made by new_postgres_database."""
    name = make_url(url).database
    asyncio.run(admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def private_database(backend: str, folder: Path, *, migrated: bool = True) -> Iterator[str]:
    """A database of the caller's own: a SQLite file in ``folder`` (migrated by the store on
    open), or a new PostgreSQL database (migrated unless ``migrated=False``), dropped after."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / 'private.db'}"
        return
    url = new_postgres_database()
    try:
        if migrated:
            asyncio.run(migrate.upgrade(url))
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated database of this session's own on the PostgreSQL test server."""
    url = new_postgres_database()
    try:
        asyncio.run(migrate.upgrade(url))
        yield url
    finally:
        drop_postgres_database(url)


async def empty_postgres(url: str) -> None:
    """Delete every row and restart the sequences, as after the migration."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute(f"TRUNCATE {TABLES} RESTART IDENTITY")
        await connection.execute("UPDATE catalog_meta SET version = 0, identity_rules = NULL")
    finally:
        await connection.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgres``."""
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty database of the backend, private to this test (migrated, but for SQLite, whose
    store migrates it on open)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")
    asyncio.run(empty_postgres(url))
    return url


@pytest.fixture
async def make_store(db_url: str) -> AsyncIterator[StoreFactory]:
    """Opens further stores on the test's database (another process, as far as they know)."""
    opened: list[SqlStore] = []

    async def factory() -> SqlStore:
        store = SqlStore(db_url)
        await store.open()
        opened.append(store)
        return store

    yield factory
    for store in opened:
        await store.close()


@pytest.fixture
async def store(make_store: StoreFactory) -> SqlStore:
    """An open store on an empty database."""
    return await make_store()


@pytest.fixture
async def catalog(store: SqlStore) -> SqlStore:
    """groq: models 0-4 (model 4 removed); fal: models 3-5 (the same canonical ids 3 and 4)."""
    await store.register_gateways([registration("groq"), registration("fal")])
    await sync(store, "groq", [model("groq", i) for i in range(5)], now=at(0))
    for seconds in (10, 20):
        await sync(store, "groq", [model("groq", i) for i in range(4)], now=at(seconds))
    await sync(store, "fal", [model("fal", i, name=f"FAL 100% {i}") for i in (3, 4, 5)], now=at(30))
    return store
