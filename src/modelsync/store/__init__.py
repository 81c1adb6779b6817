"""Persistence: the :class:`~modelsync.store.base.Store` interface and its SQL implementation.

The interface (:mod:`modelsync.store.base`) imports no database library; SQLAlchemy comes with
the implementation, imported when a store is made (``modelsync status``'s quick path reads the
interface's rows without it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelsync.store.base import Store

if TYPE_CHECKING:
    from modelsync.store.sql import SqlStore


def create_store(url: str, *, echo: bool = False, auto_upgrade: bool = False) -> Store:
    """The store for a database URL (``sqlite+aiosqlite:///...`` or ``postgresql+asyncpg://...``).

    Nothing is opened yet: call ``await store.open()``. ``auto_upgrade`` lets ``open()`` migrate
    a PostgreSQL database (SQLite is always migrated on open).
    """
    from modelsync.store.sql import SqlStore  # noqa: PLC0415 - the database stack, when needed

    return SqlStore(url, echo=echo, auto_upgrade=auto_upgrade)


def __getattr__(name: str) -> Any:
    if name == "SqlStore":
        from modelsync.store.sql import SqlStore  # noqa: PLC0415 - the database stack, when needed

        return SqlStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["SqlStore", "Store", "create_store"]
