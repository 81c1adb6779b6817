"""PURE: the read lane's raw rows as the API's JSON (or as typed values), without SQLAlchemy.

Each row becomes an :class:`orjson.Fragment` (JSON text that ``orjson.dumps`` embeds as it is)
in the shape of :meth:`StoredModel.to_json` or :meth:`ChangeRecord.to_json`, so the web layer
writes a whole answer with one ``orjson.dumps`` of its envelope.

A model's stored ``data`` is :meth:`Model.to_json` as JSON text: its ``status`` is the gateway's
(``active`` or ``deprecated``), which is also the served status while the model is present (the
store writes both from the same model). So a present row is served as its ``data`` with the row's
times and hash appended, never parsed; only a missing or removed row (served status ``missing`` or
``removed``) is parsed to replace its status. Times are written as ``datetime.isoformat()``
of the UTC value: PostgreSQL formats them in the query (``queries.IsoTime``), SQLite's stored
text is reformatted here, memoized (the rows of one run share their times).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any

import orjson
from sqlalchemy import JSON, Boolean, Select

from modelsync.domain import Presence
from modelsync.store.schema import UtcDateTime

TimeText = Callable[[str], str]
"""A time as ``queries.IsoTime`` reads it, as the served JSON writes it."""


@lru_cache(maxsize=4096)
def sqlite_time_text(raw: str) -> str:
    """SQLite's stored ``YYYY-MM-DD HH:MM:SS.ffffff`` (naive UTC) as ``isoformat()``."""
    return datetime.fromisoformat(raw).replace(tzinfo=UTC).isoformat()


def formatted(text: str) -> str:
    """PostgreSQL's: formatted by the query already."""
    return text


def time_text_for(dialect: str) -> TimeText:
    return sqlite_time_text if dialect == "sqlite" else formatted


@lru_cache(maxsize=4096)
def sqlite_time_value(raw: str) -> datetime:
    """SQLite's stored naive UTC text as an aware ``datetime``."""
    return datetime.fromisoformat(raw).replace(tzinfo=UTC)


Readers = tuple[tuple[int, Callable[[Any], Any]], ...]
"""Which columns of a row need reading, and how."""


@cache
def value_readers(statement: Select[Any], dialect: str) -> Readers:
    """How to read the selected columns whose raw values are not yet what their SQLAlchemy type
    gives: JSON parsed, and on SQLite times as aware datetimes and booleans as bool."""
    readers: list[tuple[int, Callable[[Any], Any]]] = []
    for index, selected in enumerate(statement.selected_columns):
        kind = selected.type
        if isinstance(kind, JSON):
            readers.append((index, orjson.loads))
        elif isinstance(kind, UtcDateTime) and dialect == "sqlite":
            readers.append((index, sqlite_time_value))
        elif isinstance(kind, Boolean) and dialect == "sqlite":
            readers.append((index, bool))
    return tuple(readers)


def typed(row: Sequence[Any], readers: Readers) -> list[Any]:
    """One raw row read with :func:`value_readers` (nulls stay null)."""
    values = list(row)
    for index, read in readers:
        raw = values[index]
        if raw is not None:
            values[index] = read(raw)
    return values


@dataclass(frozen=True, slots=True)
class ServedRows:
    """A read's models as JSON fragments, and the catalog version they were read at."""

    catalog_version: int
    rows: list[orjson.Fragment]


def model_fragment(row: Sequence[Any], time_text: TimeText) -> orjson.Fragment:
    """One row of ``queries.MODEL_COLUMNS[SERVED]`` (after the catalog version) as JSON."""
    data, presence, status, first_seen, last_seen, updated, content_hash = row
    if presence == Presence.PRESENT:
        head = data.rstrip()[:-1]
    else:
        parsed = orjson.loads(data)
        parsed["status"] = status
        head = orjson.dumps(parsed).decode()[:-1]
    return orjson.Fragment(
        f'{head},"first_seen_at":"{time_text(first_seen)}",'
        f'"last_seen_at":"{time_text(last_seen)}","updated_at":"{time_text(updated)}",'
        f'"content_hash":"{content_hash}"}}'
    )


def model_rows(found: Sequence[Sequence[Any]], time_text: TimeText) -> list[orjson.Fragment]:
    """Rows of ``queries.MODEL_COLUMNS[SERVED]`` (whose first column, the catalog version, the
    caller reads)."""
    return [model_fragment(row[1:], time_text) for row in found]


def change_documents(found: Sequence[Sequence[Any]]) -> list[orjson.Fragment] | None:
    """Rows of ``queries.DOCUMENT_CHANGE`` as the changes' JSON; None when a row has no
    document (its page is read from the columns instead, :func:`change_rows`)."""
    documents = []
    for seq, _, doc, *_ in found:
        if doc is None:
            return None
        documents.append(orjson.Fragment(f'{{"seq":{seq},{doc}'))
    return documents


def change_rows(found: Sequence[Sequence[Any]], time_text: TimeText) -> list[dict[str, Any]]:
    """Rows of ``queries.SERVED_CHANGE`` as :meth:`ChangeRecord.to_json` (stored JSON embedded);
    columns after those (``OLDEST_SEQ``) are not part of a change."""
    return [
        {
            "seq": seq,
            "gateway": gateway,
            "gateway_model_id": gateway_model_id,
            "id": model_id,
            "kind": kind,
            "fields": orjson.Fragment(fields),
            "anomalies": orjson.Fragment(anomalies),
            "source": source,
            "catalog_version": catalog_version,
            "at": time_text(at),
        }
        for (
            seq,
            gateway,
            gateway_model_id,
            model_id,
            kind,
            fields,
            anomalies,
            source,
            catalog_version,
            at,
            *_,
        ) in found
    ]
