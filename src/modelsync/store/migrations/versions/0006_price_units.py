"""Prices with their units and source: stored models rewritten to the new ``pricing`` shape.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

Issue 7 item 5 and issue 9 item 3: every served ``pricing`` object says the unit of each price
(``unit``, ``units``) and where the prices came from (``source``), and OpenRouter's
``web_search``, ``internal_reasoning`` and ``audio`` prices become compared fields instead of
``extra.pricing`` keys. The API serves a model's stored ``data`` as written, so each stored
model's ``data.pricing`` is rewritten here, in batches of 1,000 rows:

* the new price fields take the values older versions kept in ``extra.pricing`` (OpenRouter's
  shape: USD per token, ``web_search`` per request), converted as the adapter now converts them,
  so the first run after the upgrade records no change for them;
* ``unit_price`` and ``per_unit`` (fal's unit prices) are null;
* ``unit``, ``units`` and ``source`` (``gateway`` when any price is known) are added.

The shapes are copied here as literals: a migration must not change with the code. Downgrade
drops the added keys again (the legacy values stay in ``extra.pricing``, where they still are).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1_000
OLD_FIELDS = ("prompt", "completion", "cache_read", "cache_write", "request", "image")
MOVED = (("web_search", 0), ("internal_reasoning", 6), ("audio", 6))
"""The prices taken from ``extra.pricing``, and the power of ten to USD per 1M (or per request)."""
ADDED = (
    "web_search",
    "internal_reasoning",
    "audio",
    "unit_price",
    "per_unit",
    "unit",
    "units",
    "source",
)
PER_1M = "usd_per_1m_tokens"
UNITS = {
    "prompt": PER_1M,
    "completion": PER_1M,
    "cache_read": PER_1M,
    "cache_write": PER_1M,
    "request": "usd_per_request",
    "image": "usd_per_image",
    "web_search": "usd_per_request",
    "internal_reasoning": PER_1M,
    "audio": PER_1M,
    "unit_price": None,
}


def _text(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _moved(legacy: Any, name: str, scale: int) -> str | None:
    if not isinstance(legacy, dict):
        return None
    raw = legacy.get(name)
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        return None
    try:
        number = Decimal(str(raw))
    except InvalidOperation:
        return None
    if not number.is_finite() or number < 0 or abs(number.adjusted()) > 30:
        return None
    return _text(number.scaleb(scale)) if number else "0"


def upgraded(data: dict[str, Any]) -> dict[str, Any]:
    """One stored model's ``data`` with the new ``pricing`` shape."""
    old = data.get("pricing") or {}
    if "units" in old:
        return data
    legacy = (data.get("extra") or {}).get("pricing")
    pricing: dict[str, Any] = {name: old.get(name) for name in OLD_FIELDS}
    for name, scale in MOVED:
        pricing[name] = _moved(legacy, name, scale)
    pricing["unit_price"] = None
    pricing["per_unit"] = None
    pricing["unit"] = PER_1M
    pricing["units"] = dict(UNITS)
    known = any(pricing[name] is not None for name in UNITS)
    pricing["source"] = "gateway" if known else None
    return {**data, "pricing": pricing}


def downgraded(data: dict[str, Any]) -> dict[str, Any]:
    pricing = {k: v for k, v in (data.get("pricing") or {}).items() if k not in ADDED}
    return {**data, "pricing": pricing}


def _rewrite(change: Any) -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    select = sa.text(
        "SELECT row_id, data FROM models WHERE row_id > :after ORDER BY row_id LIMIT :limit"
    )
    value = "CAST(:data AS json)" if postgres else ":data"
    update = sa.text(f"UPDATE models SET data = {value} WHERE row_id = :row_id")  # noqa: S608
    after = -1
    while True:
        rows = bind.execute(select, {"after": after, "limit": BATCH}).all()
        if not rows:
            return
        params = []
        for row_id, stored in rows:
            data = orjson.loads(stored) if isinstance(stored, str | bytes) else stored
            params.append({"row_id": row_id, "data": orjson.dumps(change(data)).decode()})
        bind.execute(update, params)
        after = rows[-1][0]


def upgrade() -> None:
    """Rewrite every stored model's pricing with units and source."""
    _rewrite(upgraded)


def downgrade() -> None:
    """Drop the added pricing keys."""
    _rewrite(downgraded)
