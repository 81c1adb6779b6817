"""``modelsync status`` and ``modelsync changes``: read the store, render for people or machines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from modelsync.config import ResolvedGateway, Settings, resolve_gateways
from modelsync.store import create_store
from modelsync.store.base import ALL_CHANGES, ChangeSelection, GatewayState
from modelsync.sync.changes import change_page
from modelsync.sync.health import status_json
from modelsync.sync.processes import process_json

HEALTH_STYLE = {
    "pending": "cyan",
    "ok": "green",
    "degraded": "yellow",
    "failing": "bold red",
    "disabled": "dim",
}


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


def registered(
    states: Sequence[GatewayState],
    gateways: dict[str, ResolvedGateway],
    names: Sequence[str] | None,
) -> bool:
    """PURE: the rows are those the configuration would register (names, tier, interval, on/off
    and why)."""
    wanted = set(gateways) if names is None else set(names)
    rows = {state.name: state for state in states}
    if not wanted <= set(rows):
        return False
    return all(
        (row.tier, row.interval_s, row.enabled, row.disabled_reason)
        == (gateway.spec.tier.value, gateway.interval_s, gateway.enabled, gateway.disabled_reason)
        for name, row in rows.items()
        if (gateway := gateways.get(name)) is not None and name in wanted
    )


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


def render_processes(console: Console, rows: Sequence[dict[str, Any]]) -> None:
    """The fleet under the gateways' table: one line per serving process."""
    if not rows:
        console.print("[dim]no serving process (modelsync serve) is registered[/]")
        return
    now = datetime.now(UTC)
    table = Table(box=None, pad_edge=False, expand=False)
    for column in ("process", "host", "pid", "applied", "seen", "state"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        state = (
            f"[bold red]lagging ({row['behind_s']:.0f}s)[/]" if row["lagging"] else "[green]ok[/]"
        )
        table.add_row(
            row["id"],
            row["host"],
            str(row["pid"]),
            str(row["applied_version"]),
            relative(row["last_seen_at"], now),
            state,
        )
    console.print(table)


def _when(value: str | None) -> str:
    return value.replace("T", " ")[:19] if value else "—"


def relative(value: str | None, now: datetime) -> str:
    """``"3m ago"``, ``"in 2h"``, ``"—"``: times as a person scanning a table wants them."""
    if not value:
        return "—"
    seconds = (datetime.fromisoformat(value) - now).total_seconds()
    amount = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if amount >= size:
            text = f"{int(amount // size)}{unit}"
            break
    else:
        text = f"{int(amount)}s"
    return f"in {text}" if seconds > 0 else f"{text} ago"


def every(seconds: int) -> str:
    """PURE: an interval as a person reads it: ``45s``, ``20m``, ``4h``, ``1h30m``."""
    if seconds < 60:
        return f"{seconds}s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = (
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs else "",
    )
    return "".join(parts)


def _last_error(row: dict[str, Any]) -> str:
    """The last error, and how many entries are quarantined (``--json`` names each)."""
    held = row.get("quarantined") or ()
    note = f"{len(held)} entries quarantined" if held else ""
    return "; ".join(part for part in (row["last_error"] or "", note) if part)


def render_status(console: Console, rows: Sequence[dict[str, Any]]) -> None:
    now = datetime.now(UTC)
    table = Table(box=None, pad_edge=False, expand=False)
    for column in ("gateway", "status", "every", "models", "last ok", "next", "fails"):
        table.add_column(column, no_wrap=True, justify="right" if column in {"models", "fails"}
                         else "left")  # fmt: skip
    table.add_column("last error", overflow="fold")
    for row in rows:
        style = HEALTH_STYLE[row["status"]]
        table.add_row(
            row["gateway"],
            f"[{style}]{row['status']}[/]",
            every(row["interval_s"]),
            str(row["model_count"]),
            relative(row["last_success_at"], now),
            relative(row["next_run_at"], now),
            str(row["consecutive_failures"]),
            _last_error(row),
        )
    console.print(table)


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
