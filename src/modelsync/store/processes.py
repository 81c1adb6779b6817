"""The process registry's statements (``processes``, migration 0008), by the database's clock.

A heartbeat upserts the process's row: ``last_seen_at`` is the database's now, and
``behind_since`` is when the process first reported a version below the store's catalog version
(kept while it stays behind, cleared once it catches up), so how long a process has lagged is
measured by one clock for the whole fleet. Rows silent past the expiry are deleted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Delete,
    Insert,
    Select,
    bindparam,
    case,
    delete,
    func,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite

from modelsync.store.base import ProcessBeat
from modelsync.store.engine import DialectFlags
from modelsync.store.schema import UtcDateTime, processes
from modelsync.store.statements import CATALOG_VERSION, db_later, db_now

p = processes.c


def heartbeat(flags: DialectFlags) -> Insert:
    """Insert or refresh a process's row (see the module docstring)."""
    insert: Any = (
        postgresql.insert(processes) if flags.name == "postgresql" else sqlite.insert(processes)
    )
    now = db_now(flags)
    applied: Any = bindparam("p_applied", type_=BigInteger)
    statement = insert.values(
        id=bindparam("p_id"),
        host=bindparam("p_host"),
        pid=bindparam("p_pid"),
        version=bindparam("p_version"),
        started_at=bindparam("p_started_at", type_=UtcDateTime()),
        last_seen_at=now,
        applied_version=applied,
        behind_since=case((applied < CATALOG_VERSION, now), else_=None),
    )
    result: Insert = statement.on_conflict_do_update(
        index_elements=[p.id],
        set_={
            "last_seen_at": now,
            "applied_version": statement.excluded.applied_version,
            "behind_since": case(
                (statement.excluded.applied_version < CATALOG_VERSION,
                 func.coalesce(p.behind_since, now)),
                else_=None,
            ),
        },
    )  # fmt: skip
    return result


def expire(flags: DialectFlags) -> Delete:
    """Delete the rows silent for ``p_ttl`` (negative) seconds of the database's clock."""
    return delete(processes).where(p.last_seen_at < db_later(flags))


def live(flags: DialectFlags) -> Select[Any]:
    """The processes seen within the expiry (``p_ttl``, negative), oldest first."""
    return (
        select(
            *processes.c,
            type_coerce(db_now(flags), UtcDateTime()).label("now"),
            CATALOG_VERSION.label("catalog_version"),
        )
        .where(p.last_seen_at >= db_later(flags))
        .order_by(p.started_at, p.id)
    )


def beat_params(beat: ProcessBeat) -> dict[str, Any]:
    return {
        "p_id": beat.id,
        "p_host": beat.host,
        "p_pid": beat.pid,
        "p_version": beat.version,
        "p_started_at": beat.started_at,
        "p_applied": beat.applied_version,
    }


LEAVE: Delete = delete(processes).where(p.id == bindparam("p_id"))
"""A process that stops cleanly removes its row at once."""
