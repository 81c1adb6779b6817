"""The read lane of PostgreSQL (:mod:`~modelsync.store.read_lane`): asyncpg connections.

A module of its own so that asyncpg and SQLAlchemy's asyncpg dialect are imported only by a
process that reads from PostgreSQL (about 5 MB of a SQLite process's memory otherwise).
"""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import URL

from modelsync.store.read_lane import DRIVER_ERRORS, READ_CONNECTIONS, ReadLane


class PostgresReadLane(ReadLane):
    """asyncpg connections; each statement prepared once per connection, and bounded in time."""

    dialect = PGDialect_asyncpg()  # type: ignore[no-untyped-call]
    driver_errors = (
        *DRIVER_ERRORS,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.exceptions.InternalClientError,  # a connection the server closed under it
    )

    def __init__(
        self, url: URL, *, statement_timeout_s: float = 30.0, size: int = READ_CONNECTIONS
    ) -> None:
        super().__init__(size)
        args, kwargs = self.dialect.create_connect_args(url)  # type: ignore[no-untyped-call]
        for adapter_option in ("prepared_statement_cache_size", "prepared_statement_name_func"):
            kwargs.pop(adapter_option, None)  # SQLAlchemy's, not asyncpg's
        self._connect_args = (args, kwargs)
        self._timeout_s = statement_timeout_s

    async def _connect(self) -> asyncpg.Connection:
        args, kwargs = self._connect_args
        connection: asyncpg.Connection = await asyncpg.connect(
            *args, **kwargs, timeout=self._timeout_s
        )
        return connection

    async def _fetch(self, connection: Any, sql: str, arguments: list[Any]) -> list[Any]:
        rows: list[Any] = await connection.fetch(sql, *arguments, timeout=self._timeout_s)
        return rows

    async def _close(self, connection: Any) -> None:
        await connection.close(timeout=5)
