"""``modelsync status`` on a SQLite database without the store (issue 12 item 5).

The store's path costs SQLAlchemy, its async engine, Alembic's head and structlog: some 60 times a
bare interpreter's start. This one reads the same rows with the standard library's ``sqlite3``
and prints them through the same code (:mod:`modelsync.cli.status_view`,
:func:`~modelsync.sync.health.status_json`, :func:`~modelsync.sync.health.process_json`), so
its output is the store path's, byte for byte.

Nothing here writes SQL: ``status_sql.json`` holds what SQLAlchemy compiles of the store's own
statements for SQLite (``SELECT_STATES``, ``SELECT_NAMED_STATES``, ``processes.live``), the
kinds of their result columns and the schema's head revision; :func:`write_status_sql` writes it
again, and ``tests/cli/test_quick_status.py`` fails while it differs from what SQLAlchemy
compiles now.

:func:`quick_status` answers only when it is sure; it returns None, and the store's path runs
(with its one-line errors, migration, registration of the gateways, ``--remote`` and
PostgreSQL), for any other argument, a URL that is not a SQLite file, a file that does not
exist or cannot be written, a schema not at head, gateway rows not registered as configured, an
unknown gateway, or any exception at all.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

STATUS_SQL_FILE = Path(__file__).with_name("status_sql.json")
SQLITE_PREFIXES = ("sqlite+aiosqlite:///", "sqlite:///")
KINDS = ("datetime", "json", "bool", "plain")


# -- the generated file -------------------------------------------------------------------------


def compiled_status_sql() -> dict[str, Any]:
    """What SQLAlchemy compiles now of the statements ``status`` runs, for SQLite: each one's
    SQL with named parameters (the constant ones' values beside it, ``expanding`` the lists),
    its result columns and their kinds; and the schema's head revision."""
    from sqlalchemy import column, select, table
    from sqlalchemy.dialects import sqlite

    from modelsync.store import processes
    from modelsync.store.engine import SQLITE
    from modelsync.store.migrate import head_revision
    from modelsync.store.statements import SELECT_NAMED_STATES, SELECT_STATES

    dialect = sqlite.dialect(paramstyle="named")
    revision: Any = select(column("version_num")).select_from(table("alembic_version"))
    statements = {
        "revision": revision,
        "states": SELECT_STATES,
        "named_states": SELECT_NAMED_STATES,
        "processes": processes.live(SQLITE),
    }
    return {
        "head": head_revision(),
        "statements": {
            name: _compiled(statement, dialect) for name, statement in statements.items()
        },
    }


def _compiled(statement: Any, dialect: Any) -> dict[str, Any]:
    compiled = statement.compile(dialect=dialect)
    binds = {str(name): bind for bind, name in compiled.bind_names.items()}
    return {
        "sql": str(compiled),
        "constants": {
            name: bind.value
            for name, bind in sorted(binds.items())
            if bind.value is not None and not bind.expanding
        },
        "expanding": sorted(name for name, bind in binds.items() if bind.expanding),
        "columns": {str(c.name): _kind(c.type) for c in statement.selected_columns},
    }


def _kind(type_: Any) -> str:
    from sqlalchemy import JSON, Boolean

    from modelsync.store.schema import UtcDateTime

    if isinstance(type_, UtcDateTime):
        return "datetime"
    if isinstance(type_, JSON):
        return "json"
    if isinstance(type_, Boolean):
        return "bool"
    return "plain"


def rendered_status_sql() -> str:
    return orjson.dumps(compiled_status_sql(), option=orjson.OPT_INDENT_2).decode() + "\n"


def write_status_sql() -> None:
    """Write ``status_sql.json`` again, after a statement, a column or a migration changed."""
    STATUS_SQL_FILE.write_text(rendered_status_sql(), encoding="utf-8")


# -- PURE: arguments, URL, values ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusRequest:
    gateway: str | None
    json: bool


def parse_status_args(args: Sequence[str]) -> StatusRequest | None:
    """PURE: ``status [GATEWAY] [--json]`` (either order); None for anything else."""
    if not args or args[0] != "status":
        return None
    gateway: str | None = None
    json = False
    for arg in args[1:]:
        if arg == "--json" and not json:
            json = True
        elif not arg.startswith("-") and gateway is None:
            gateway = arg
        else:
            return None
    return StatusRequest(gateway, json)


def sqlite_file(url: str) -> Path | None:
    """PURE: the file of a plain SQLite URL; None for anything else (a server, memory, a URI
    file name, query options, escapes: the store's path reads those)."""
    for prefix in SQLITE_PREFIXES:
        if url.startswith(prefix):
            database = url.removeprefix(prefix)
            break
    else:
        return None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    if any(mark in database for mark in "?%#"):
        return None
    return Path(database)


def convert(kind: str, value: Any) -> Any:
    """PURE: a SQLite value as SQLAlchemy's types read it back; raises on what they would not."""
    if value is None:
        return None
    if kind == "datetime":
        if not isinstance(value, str) or len(value) not in (19, 26):
            raise ValueError(f"not a stored time: {value!r}")
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is not None:
            raise ValueError(f"not a stored time: {value!r}")
        return parsed.replace(tzinfo=UTC)
    if kind == "json":
        return orjson.loads(value)
    if kind == "bool":
        if value not in (0, 1):
            raise ValueError(f"not a stored boolean: {value!r}")
        return bool(value)
    if kind == "plain":
        return value
    raise ValueError(f"unknown column kind {kind!r}")


# -- I/O ----------------------------------------------------------------------------------------


class _Reader:
    """A connection to an existing file (never created; opened read-write, as the store's path
    would: a file it could only read falls back before this) and the generated statements."""

    def __init__(self, path: Path, spec: Mapping[str, Any]) -> None:
        self.statements: Mapping[str, Any] = spec["statements"]
        uri = "file:" + _quote(str(path.resolve())) + "?mode=rw"
        self.connection = sqlite3.connect(uri, uri=True, isolation_level=None)

    def rows(self, name: str, **params: Any) -> list[dict[str, Any]]:
        statement = self.statements[name]
        sql: str = statement["sql"]
        bound = dict(statement["constants"]) | params
        for key in statement["expanding"]:
            values = list(bound.pop(key))
            names = [f"{key}_{index}" for index in range(1, len(values) + 1)]
            sql = sql.replace(f"__[POSTCOMPILE_{key}]", ", ".join(f":{n}" for n in names))
            bound |= dict(zip(names, values, strict=True))
        columns = list(statement["columns"].items())
        found = []
        for record in self.connection.execute(sql, bound).fetchall():
            pairs = zip(columns, record, strict=True)  # raises on a column more or less
            found.append({column: convert(kind, value) for (column, kind), value in pairs})
        return found

    def close(self) -> None:
        self.connection.close()


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def _writable(path: Path) -> bool:
    """The store's path refuses a file or folder it cannot write (``check_sqlite_path``)."""
    folder = path.parent
    return (
        path.is_file()
        and os.access(path, os.R_OK | os.W_OK)
        and os.access(folder, os.W_OK | os.X_OK)
    )


def read_quick_status(
    request: StatusRequest,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """The status rows and the fleet's, as the store's path reads them; None when not sure."""
    from modelsync.cli.status_view import registered
    from modelsync.config import load_settings, resolve_gateways, selected_gateways
    from modelsync.store.base import ProcessRow
    from modelsync.store.rows import state_from_row
    from modelsync.sync.health import process_json, status_json

    settings = load_settings()
    path = sqlite_file(settings.database_url)
    if path is None or not _writable(path) or not STATUS_SQL_FILE.is_file():
        return None
    gateways = resolve_gateways(settings)
    names = None if request.gateway is None else selected_gateways(gateways, request.gateway)
    spec = orjson.loads(STATUS_SQL_FILE.read_bytes())
    reader = _Reader(path, spec)
    try:
        stamped = reader.rows("revision")
        if [row["version_num"] for row in stamped] != [spec["head"]]:
            return None
        if names is None:
            found = reader.rows("states")
        else:
            found = reader.rows("named_states", p_names=names) if names else []
        states = [state_from_row(values) for values in found]
        if not registered(states, gateways, names):
            return None
        fleet = settings.process
        live = reader.rows("processes", p_ttl=-fleet.expire_after_s)
    finally:
        reader.close()
    failing_after = settings.scheduler.breaker_threshold
    rows = [status_json(state, failing_after=failing_after) for state in states]
    processes = [
        process_json(
            ProcessRow(**values), threshold_s=fleet.lag_threshold_s, heartbeat_s=fleet.heartbeat_s
        )
        for values in live
    ]
    return rows, processes


def quick_status(args: Sequence[str]) -> Callable[[], None] | None:
    """What prints ``modelsync status``'s answer for these arguments, once the rows are read;
    None (run the store's path) for anything this path is not sure of (see the module)."""
    request = parse_status_args(args)
    if request is None:
        return None
    try:
        read = read_quick_status(request)
    except Exception:  # noqa: BLE001 - any doubt: the store's path says what is wrong
        return None
    if read is None:
        return None
    rows, processes = read

    def show() -> None:
        from modelsync.cli.status_view import show_status

        show_status(rows, processes, json=request.json)

    return show


def run_quick_status(args: Sequence[str]) -> bool:
    """Print ``modelsync status``'s answer when the quick path is sure of it."""
    show = quick_status(args)
    if show is None:
        return False
    show()
    sys.stdout.flush()
    return True
