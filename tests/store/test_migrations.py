"""The migrations: they build exactly schema.py on both databases, and open() applies them."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Insert, column, insert, inspect, table

from modelsync.domain import Pricing
from modelsync.errors import ConfigError, StoreError
from modelsync.store import create_store, migrate
from modelsync.store.base import ModelQuery
from modelsync.store.database import quick_head
from modelsync.store.engine import create_engine, database_url, dialect_flags
from modelsync.store.rows import model_values, registration_values
from modelsync.store.schema import gateways, is_search_object, metadata, models
from modelsync.store.sql import SqlStore

from .conftest import BACKENDS, private_database
from .factories import at, model, registration, sync


@pytest.fixture(params=BACKENDS)
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database that was never migrated."""
    with private_database(request.param, tmp_path, migrated=False) as url:
        yield url


def schema_differences(connection: Connection) -> list[Any]:
    """What ``alembic check`` would report: the database against schema.py's metadata."""
    options = {
        "compare_type": True,
        "compare_server_default": True,
        "include_name": lambda name, _type, _parents: not is_search_object(name),
    }
    context = MigrationContext.configure(connection, opts=options)
    with warnings.catch_warnings():
        # SQLite's reflection cannot read the pages' expression indexes (outside the metadata)
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        return list(compare_metadata(context, metadata))


OLD_PRICE_FIELDS = ("prompt", "completion", "cache_read", "cache_write", "request", "image")


def insert_gateway() -> Insert:
    return insert(gateways)


def insert_model_0002(values: dict[str, Any]) -> Insert:
    """An INSERT into 0002's ``models`` (no ``row_id`` yet), through a table of that shape."""
    columns = [column(name, models.c[name].type) for name in values]
    return insert(table("models", *columns))


def table_names(connection: Connection) -> set[str]:
    """The tables in the database."""
    return set(inspect(connection).get_table_names())


async def run_on(url: str, function: Any, *args: Any) -> Any:
    """Run a synchronous function on a connection of the URL's database, and commit."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            result = await connection.run_sync(function, *args)
            await connection.commit()
            return result
    finally:
        await engine.dispose()


async def test_the_migration_builds_exactly_the_schema(fresh_url: str) -> None:
    """After ``upgrade`` the database has no difference from schema.py (alembic check)."""
    assert await migrate.current(fresh_url) is None
    assert await migrate.upgrade(fresh_url) == migrate.head_revision()
    assert await run_on(fresh_url, schema_differences) == []


async def test_upgrade_is_idempotent_and_downgrade_empties(fresh_url: str) -> None:
    """A second upgrade changes nothing; downgrading to base drops every table, and back."""
    await migrate.upgrade(fresh_url)
    assert await migrate.upgrade(fresh_url) == migrate.head_revision()

    def downgrade(connection: Connection) -> None:
        command.downgrade(migrate.alembic_config(connection), "base")

    await run_on(fresh_url, downgrade)
    assert await run_on(fresh_url, table_names) <= {"alembic_version"}
    assert await migrate.current(fresh_url) is None
    await migrate.upgrade(fresh_url)
    assert await run_on(fresh_url, schema_differences) == []


async def test_open_migrates_sqlite_in_an_existing_folder(tmp_path: Path) -> None:
    """SQLite needs no separate step: open() creates the file and the schema."""
    path = tmp_path / "modelsync.db"
    store = create_store(f"sqlite:///{path}")
    await store.open()
    await store.open()
    try:
        assert await store.catalog_version() == 0
        await store.ping()
    finally:
        await store.close()
    assert path.exists()
    assert await migrate.current(f"sqlite+aiosqlite:///{path}") == migrate.head_revision()
    other = tmp_path / "cli.db"
    assert await migrate.upgrade(f"sqlite:///{other}") == migrate.head_revision()


async def test_a_sqlite_folder_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    """A missing folder is not created behind the user's back: one error saying to create it
    (issue 7: 3), from open() and from ``db upgrade`` alike; nothing is created."""
    path = tmp_path / "new" / "deeper" / "modelsync.db"
    expected = f"the folder '{path.parent}' of the SQLite database does not exist"
    with pytest.raises(StoreError, match=re.escape(expected)):
        await create_store(f"sqlite:///{path}").open()
    with pytest.raises(StoreError, match="mkdir -p"):
        await migrate.upgrade(f"sqlite:///{path}")
    assert not (tmp_path / "new").exists()


async def test_open_on_an_in_memory_sqlite_database() -> None:
    """``sqlite+aiosqlite://`` works too (one connection for reads and writes, the served
    reads included)."""
    store = SqlStore("sqlite+aiosqlite://")
    await store.open()
    try:
        assert await store.catalog_version() == 0
        assert await store.gateway_states() == []
        await store.register_gateways([registration("groq")])
        await sync(store, "groq", [model("groq", 1)], now=at(0))
        assert len((await store.served_models(ModelQuery(q="model"))).rows) == 1
        assert [g.name for g in (await store.gateway_statuses()).gateways] == ["groq"]
    finally:
        await store.close()


@pytest.mark.postgres
@pytest.mark.parametrize("fresh_url", ["postgres"], indirect=True)
async def test_open_on_postgres_requires_an_upgraded_schema(fresh_url: str) -> None:
    """An unmigrated PostgreSQL database is refused with the command to run, or auto-upgraded."""
    with pytest.raises(StoreError, match="modelsync db upgrade"):
        await SqlStore(fresh_url).open()
    store = SqlStore(fresh_url, auto_upgrade=True)
    await store.open()
    try:
        assert await store.catalog_version() == 0
    finally:
        await store.close()
    again = SqlStore(fresh_url)
    await again.open()
    await again.close()


@pytest.mark.parametrize(
    ("url", "driver", "flags"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite", "sqlite"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite", "sqlite"),
        ("postgresql://u@h/db", "postgresql+asyncpg", "postgresql"),
        ("postgresql+psycopg://u@h/db", "postgresql+asyncpg", "postgresql"),
    ],
)
def test_database_urls_get_their_async_driver(url: str, driver: str, flags: str) -> None:
    """Plain URLs are given the async driver, and the dialect flags follow the database."""
    assert database_url(url).drivername == driver
    assert dialect_flags(url).name == flags


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url", "oracle+oracledb://h"])
def test_unsupported_databases_are_a_config_error(url: str) -> None:
    """Only SQLite and PostgreSQL are supported."""
    with pytest.raises(ConfigError):
        SqlStore(url)


async def test_an_unreachable_database_is_a_store_error(tmp_path: Path) -> None:
    """A path that cannot be opened surfaces as StoreError from open() and upgrade()."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    url = f"sqlite+aiosqlite:///{blocker / 'sub' / 'x.db'}"
    with pytest.raises(StoreError, match="folder"):
        await SqlStore(url).open()
    with pytest.raises(StoreError):
        await migrate.upgrade(url)


async def test_read_path_migration_keeps_and_indexes_existing_models(fresh_url: str) -> None:
    """0002 -> 0003 keeps every model row, keys it, and indexes it for search; and back."""
    await migrate.upgrade(fresh_url, "0002")
    store_at_0002_rows = [
        model("groq", n, name=f"Llama {n}" if n % 2 else f"Mistral {n}") for n in range(6)
    ]

    def insert(connection: Connection) -> None:
        connection.execute(insert_gateway(), registration_values(registration("groq")))
        for entry in store_at_0002_rows:
            values = model_values(entry, version=1, now=at(0))
            connection.execute(insert_model_0002(values), values)

    await run_on(fresh_url, insert)
    await migrate.upgrade(fresh_url)
    store = SqlStore(fresh_url)
    await store.open()
    try:
        found = await store.list_models(ModelQuery(limit=100))
        assert sorted(m.model.id for m in found) == sorted(m.id for m in store_at_0002_rows)
        llamas = await store.list_models(ModelQuery(q="llama"))
        assert sorted(m.model.name or "" for m in llamas) == ["Llama 1", "Llama 3", "Llama 5"]
        await sync(store, "groq", store_at_0002_rows[:5], now=at(10))  # upserts on the new key
        assert len(await store.list_models(ModelQuery(limit=100))) == 6
    finally:
        await store.close()

    def downgrade(connection: Connection) -> None:
        command.downgrade(migrate.alembic_config(connection), "0002")

    await run_on(fresh_url, downgrade)
    assert await migrate.current(fresh_url) == "0002"
    await migrate.upgrade(fresh_url)
    assert await run_on(fresh_url, schema_differences) == []


async def test_price_units_migration_rewrites_stored_pricing(fresh_url: str) -> None:
    """0005 -> 0006 (issue 7 item 5, issue 9 item 3): every stored model's pricing gains its
    units and source, and OpenRouter's legacy extra.pricing prices become compared fields equal
    to what the adapter now gives, so the first run after the upgrade records no change."""
    await migrate.upgrade(fresh_url, "0005")
    legacy = {"web_search": "0.005", "internal_reasoning": "0.000003", "other": "1"}
    priced = model("openrouter", 1, extra={"pricing": legacy})
    unpriced = model("openrouter", 2, pricing=Pricing())

    def seed(connection: Connection) -> None:
        connection.execute(insert_gateway(), registration_values(registration("openrouter")))
        for entry in (priced, unpriced):
            values = model_values(entry, version=1, now=at(0))
            data = dict(values["data"])
            data["pricing"] = {
                k: v for k, v in data["pricing"].items() if k in OLD_PRICE_FIELDS
            }  # the shape 0005 stored
            connection.execute(insert(models), {**values, "data": data})

    await run_on(fresh_url, seed)
    await migrate.upgrade(fresh_url)
    store = SqlStore(fresh_url)
    await store.open()
    try:
        served = {
            m["gateway_model_id"]: m["pricing"]
            for m in orjson.loads(
                orjson.dumps({"r": (await store.served_models(ModelQuery(limit=10))).rows})
            )["r"]
        }
        first = served[priced.gateway_model_id]
        assert first["web_search"] == "0.005"
        assert first["internal_reasoning"] == "3"
        assert first["audio"] is None
        assert first["unit"] == "usd_per_1m_tokens"
        assert first["units"]["image"] == "usd_per_image"
        assert first["units"]["web_search"] == "usd_per_request"
        assert first["source"] == "gateway"
        assert served[unpriced.gateway_model_id]["source"] is None
        catalog = await store.load_catalog("openrouter")
        again = replace(
            priced,
            pricing=replace(
                priced.pricing, web_search=Decimal("0.005"), internal_reasoning=Decimal(3)
            ),
        )
        assert catalog.entries[priced.gateway_model_id].values == again.values()
    finally:
        await store.close()

    def downgrade(connection: Connection) -> None:
        command.downgrade(migrate.alembic_config(connection), "0005")

    await run_on(fresh_url, downgrade)
    await migrate.upgrade(fresh_url)
    assert await run_on(fresh_url, schema_differences) == []


def test_the_newest_file_names_the_head_revision() -> None:
    """The store skips Alembic when the stamped revision is the newest migration file's number
    (issue 12 item 5): each migration is ``NNNN_what.py`` with revision ``"NNNN"``."""
    assert quick_head() == migrate.head_revision()
