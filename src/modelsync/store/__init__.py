"""Persistence: the :class:`~modelsync.store.base.Store` interface and its SQL implementation."""

from __future__ import annotations

from modelsync.store.base import Store
from modelsync.store.sql import SqlStore


def create_store(url: str, *, echo: bool = False, auto_upgrade: bool = False) -> Store:
    """The store for a database URL (``sqlite+aiosqlite:///...`` or ``postgresql+asyncpg://...``).

    Nothing is opened yet: call ``await store.open()``. ``auto_upgrade`` lets ``open()`` migrate
    a PostgreSQL database (SQLite is always migrated on open).
    """
    return SqlStore(url, echo=echo, auto_upgrade=auto_upgrade)


__all__ = ["SqlStore", "Store", "create_store"]
