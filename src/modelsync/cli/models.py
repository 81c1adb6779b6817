"""``modelsync models``: the catalog, or (``--unmatched``) what identity could not join."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from modelsync.cli.remote import remote_get
from modelsync.config import Settings
from modelsync.runtime import open_runtime
from modelsync.store.base import ModelQuery
from modelsync.sync.identities import unmatched_page


async def read_models(
    settings: Settings, *, gateway: str | None, unmatched: bool, limit: int, offset: int
) -> dict[str, Any]:
    """The page ``GET /api/models`` (or ``/api/models/unmatched``) would answer."""
    async with open_runtime(settings) as runtime:
        store = runtime.store
        if unmatched:
            return await unmatched_page(store, gateway=gateway, limit=limit, offset=offset)
        models = await store.list_models(ModelQuery(gateway=gateway, limit=limit, offset=offset))
        return {
            "catalog_version": await store.catalog_version(),
            "count": len(models),
            "models": [model.to_json() for model in models],
        }


def remote_models(
    base_url: str,
    token: str | None,
    *,
    gateway: str | None,
    unmatched: bool,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """The same page from a running server."""
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if gateway:
        params["gateway"] = gateway
    path = "/api/models/unmatched" if unmatched else "/api/models"
    answer: dict[str, Any] = remote_get(base_url, token, path, params)
    return answer


def render_unmatched(console: Console, page: dict[str, Any]) -> None:
    """One row per lonely model, its candidates beside it (ids never cut)."""
    table = Table(box=None, pad_edge=False)
    for column in ("model", "gateway", "offers", "nearest on other gateways"):
        table.add_column(column, overflow="fold")
    for row in page["models"]:
        candidates = [
            f"{c['id']} ({', '.join(c['gateways'])}; {c['score']:.2f})" for c in row["candidates"]
        ]
        table.add_row(
            row["id"],
            row["gateway"],
            ", ".join(row["gateway_model_ids"]),
            "\n".join(candidates) or "—",
        )
    console.print(table)
    shown = len(page["models"])
    console.print(f"{shown} of {page['total']} models offered by one gateway only")


def other_price(pricing: dict[str, Any]) -> str:
    """An offer's price by another unit than tokens (fal's), with its unit; else a dash."""
    value = pricing.get("unit_price")
    if value is None:
        return "—"
    return f"{value} USD/{pricing.get('per_unit') or 'unit'}"


def render_models(console: Console, page: dict[str, Any]) -> None:
    """One row per offer with its token prices in USD per 1M tokens, its unit price if it has
    one, and where its prices came from."""
    table = Table(box=None, pad_edge=False)
    for column in ("model", "gateway", "gateway model id", "status"):
        table.add_column(column, overflow="fold")
    for column in ("prompt", "completion"):
        table.add_column(f"{column} (USD/1M tokens)", justify="right")
    table.add_column("other price", justify="right")
    table.add_column("price source", overflow="fold")
    for row in page["models"]:
        pricing = row["pricing"]
        table.add_row(
            row["id"],
            row["gateway"],
            row["gateway_model_id"],
            row["status"],
            pricing["prompt"] or "—",
            pricing["completion"] or "—",
            other_price(pricing),
            pricing.get("source") or "—",
        )
    console.print(table)
    console.print(f"{page['count']} models (catalog version {page['catalog_version']})")
