"""PURE: the read side's SELECT statements, built from the caller's filters.

These vary per call (filters come and go), so they are built each time; they are still Core
statements whose shapes repeat, so SQLAlchemy's compiled cache serves them after the first use.
``q`` is matched case-insensitively as a literal substring (``%`` and ``_`` are escaped).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, bindparam, or_, select

from modelsync.domain import Presence
from modelsync.store.base import ModelQuery
from modelsync.store.schema import changes, gateways, models, sync_runs, webhook_deliveries

m = models.c

STORED_MODELS = select(*models.c, gateways.c.last_success_at.label("gateway_last_success_at")).join(
    gateways, gateways.c.name == m.gateway
)
"""Model rows with their gateway's last success (a present model's ``last_seen_at``)."""


def escape_like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern whose escape character is a backslash."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def stored_models(query: ModelQuery) -> Select[Any]:
    """Models matching the query, by gateway then canonical id."""
    statement = STORED_MODELS
    if query.gateway is not None:
        statement = statement.where(m.gateway == query.gateway)
    if query.provider is not None:
        statement = statement.where(m.provider_slug == query.provider)
    if query.q:
        pattern = "%" + escape_like(query.q) + "%"
        columns = (m.model_id, m.name, m.gateway_model_id)
        statement = statement.where(or_(*(c.ilike(pattern, escape="\\") for c in columns)))
    if not query.include_removed:
        statement = statement.where(m.presence != Presence.REMOVED.value)
    statement = statement.order_by(m.gateway, m.model_id, m.gateway_model_id)
    return statement.limit(query.limit).offset(query.offset)


def offers(model_id: str) -> Select[Any]:
    """Every gateway's row of one canonical model id, removed ones included."""
    return STORED_MODELS.where(m.model_id == model_id).order_by(m.gateway, m.gateway_model_id)


OFFER_INDEX = select(m.gateway, m.gateway_model_id, m.model_id, m.name).where(
    m.presence != Presence.REMOVED.value
)
"""Every current offer's ids and name, without its data (the unmatched report)."""


def changes_after(
    *, since: int | None, gateway: str | None, model: str | None, limit: int
) -> Select[Any]:
    """Changes with ``seq > since``, oldest first."""
    c = changes.c
    statement = select(changes).order_by(c.seq).limit(limit)
    if since is not None:
        statement = statement.where(c.seq > since)
    if gateway is not None:
        statement = statement.where(c.gateway == gateway)
    if model is not None:
        statement = statement.where(c.model_id == model)
    return statement


def runs(*, gateway: str | None, limit: int) -> Select[Any]:
    """Runs newest first."""
    statement = select(sync_runs).order_by(sync_runs.c.id.desc()).limit(limit)
    if gateway is not None:
        statement = statement.where(sync_runs.c.gateway == gateway)
    return statement


def deliveries(*, limit: int) -> Select[Any]:
    """Webhook deliveries newest first."""
    w = webhook_deliveries.c
    return select(webhook_deliveries).order_by(w.received_at.desc(), w.id.desc()).limit(limit)


def live_delivery_keys() -> Select[Any]:
    """Keys and expiry of the deliveries unexpired at ``p_now`` (uses the expiry index)."""
    w = webhook_deliveries.c
    return (
        select(w.key, w.expires_at)
        .where(w.expires_at > bindparam("p_now", type_=w.expires_at.type))
        .order_by(w.expires_at)
    )
