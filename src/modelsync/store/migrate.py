"""Alembic, driven from code: ``modelsync db upgrade`` and ``SqlStore.open()`` both land here.

There is no ``alembic.ini``; :func:`alembic_config` points Alembic at ``store/migrations`` and hands
it an open connection. The async entry points (:func:`upgrade`, :func:`current`) build an engine
with :func:`modelsync.store.engine.create_engine` and run Alembic's synchronous API through
``AsyncConnection.run_sync``; the ``*_on`` functions take a synchronous connection for callers that
already hold one (``SqlStore.open()``).

An upgrade is one transaction: on SQLite it starts with ``BEGIN IMMEDIATE`` (DDL included, so two
processes opening a new file do not both create it); on PostgreSQL it takes a transaction-scoped
advisory lock first, so concurrent ``db upgrade`` runs queue up instead of colliding.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from modelsync.errors import StoreError
from modelsync.store.engine import create_engine, database_url
from modelsync.store.opening import check_sqlite_path, open_error

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
UPGRADE_LOCK_ID = 0x6D6F64656C73796E  # "modelsyn": the advisory lock of a PostgreSQL upgrade


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for the store's migrations, optionally bound to an open connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise StoreError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_on(connection: Connection) -> str | None:
    """The database's revision (``None``: never migrated)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_on(connection: Connection, revision: str = "head") -> None:
    """Migrate inside the connection's transaction, which the caller commits."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": UPGRADE_LOCK_ID})
    command.upgrade(alembic_config(connection), revision)


async def upgrade(url: str | URL, revision: str = "head") -> str | None:
    """Migrate the database at ``url`` (created first when SQLite); returns its new revision."""
    parsed = database_url(url)
    check_sqlite_path(parsed)
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(upgrade_on, revision)
            await connection.commit()
            return await connection.run_sync(current_on)
    except (SQLAlchemyError, OSError) as exc:
        raise open_error(parsed, exc) from exc
    finally:
        await engine.dispose()


async def current(url: str | URL) -> str | None:
    """The revision of the database at ``url`` (``None``: never migrated)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(current_on)
    except (SQLAlchemyError, OSError) as exc:
        raise StoreError(f"cannot read the schema revision: {exc}") from exc
    finally:
        await engine.dispose()
