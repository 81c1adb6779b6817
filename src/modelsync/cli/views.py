"""``modelsync status`` and ``modelsync changes``: read the store, render for people or machines.

``status``'s rendering lives in :mod:`modelsync.cli.status_view`, shared with its quick path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console

from modelsync.cli.status_view import registered
from modelsync.config import Settings, resolve_gateways
from modelsync.store import create_store
from modelsync.store.base import ALL_CHANGES, ChangeSelection
from modelsync.sync.changes import change_page
from modelsync.sync.health import process_json, status_json


async def read_status(settings: Settings, names: Sequence[str] | None) -> list[dict[str, Any]]:
    """Every (or the named) gateway's status: one query on the store alone, while the rows are
    registered as configured; else through the runtime, which registers them on a fresh
    database but leaves them as the serving process registered them (its intervals, not this
    command's defaults) when there are rows."""
    gateways = resolve_gateways(settings)
    store = create_store(settings.database_url)
    await store.open()
    try:
        states = await store.gateway_states(names)
    finally:
        await store.close()
    if not registered(states, gateways, names):
        from modelsync.runtime import open_runtime

        async with open_runtime(settings, register=False) as runtime:
            states = await runtime.store.gateway_states(names)
    failing_after = settings.scheduler.breaker_threshold
    return [status_json(state, failing_after=failing_after) for state in states]


async def read_processes(settings: Settings) -> list[dict[str, Any]]:
    """The serving processes in the store's registry (``"processes"`` of the status API)."""
    fleet = settings.process
    store = create_store(settings.database_url)
    await store.open()
    try:
        rows = await store.live_processes(expire_after_s=fleet.expire_after_s)
    finally:
        await store.close()
    return [
        process_json(row, threshold_s=fleet.lag_threshold_s, heartbeat_s=fleet.heartbeat_s)
        for row in rows
    ]


def _when(value: str | None) -> str:
    return value.replace("T", " ")[:19] if value else "—"


async def read_changes(
    settings: Settings,
    *,
    since: int | None,
    gateway: str | None,
    model: str | None = None,
    limit: int,
    select_by: ChangeSelection = ALL_CHANGES,
) -> dict[str, Any]:
    """A page of changes as ``GET /api/changes`` answers it (see :func:`change_page`)."""
    from modelsync.runtime import open_runtime

    async with open_runtime(settings, register=False) as runtime:
        records = await runtime.store.list_changes(
            since=since, gateway=gateway, model=model, limit=limit, select_by=select_by
        )
        changes = [record.to_json() for record in records]
        return await change_page(runtime.store, changes, since=since)


PRICE_UNITS = {"image": "USD per image", "request": "USD per request"}
"""Price fields whose unit is not USD per 1M tokens."""
FIRST_FIELDS = ("pricing.", "context_length", "max_output_tokens", "max_completion_tokens")
"""Fields a reader looks for first: prices and context."""
LONG_VALUE = 100


def _value(value: Any) -> str:
    text = "none" if value is None else str(value)
    if len(text) <= LONG_VALUE:
        return text
    cut = text[:LONG_VALUE].rsplit(" ", 1)[0]  # at a word, never mid-word
    return cut + " …"


def _unit(name: str) -> str:
    if name.startswith("pricing."):
        return " " + PRICE_UNITS.get(name.removeprefix("pricing."), "USD per 1M tokens")
    if name.startswith(FIRST_FIELDS[1:]):
        return " tokens"
    return ""


def field_lines(fields: dict[str, Any]) -> list[str]:
    """PURE: one line per changed field, ``name: old -> new unit``; prices and context first."""
    first = [name for name in fields if name.startswith(FIRST_FIELDS)]
    rest = [name for name in fields if name not in first]
    lines = []
    for name in [*first, *rest]:
        old, new = fields[name]
        lines.append(f"{name}: {_value(old)} -> {_value(new)}{_unit(name)}")
    return lines


def render_changes(console: Console, page: dict[str, Any]) -> None:
    """Each change as a line (seq, time, gateway, kind, the whole model id) and its fields
    below, prices and context first; then the cursor, and a note when retention cut it."""
    for change in page["changes"]:
        console.print(
            f"#{change['seq']}  {_when(change['at'])}  {change['gateway']}  {change['kind']}  "
            f"{change['gateway_model_id']}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        details = [] if change["kind"] == "added" else field_lines(change["fields"])
        if change["anomalies"]:
            details.append("anomalies: " + ", ".join(change["anomalies"]))
        for line in details:
            console.print("    " + line, markup=False, highlight=False, soft_wrap=True)
    if not page["changes"]:
        console.print("no changes", highlight=False)
    if page.get("truncated"):
        console.print(
            f"note: retention pruned changes after that cursor; the oldest kept is "
            f"#{page['oldest_seq']}",
            highlight=False,
        )
    console.print(f"next: modelsync changes --since {page['next']}", highlight=False)
