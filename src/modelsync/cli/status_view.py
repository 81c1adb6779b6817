"""``modelsync status`` for people and machines, shared by its two paths: the store's
(``cli/views.py``) and the quick one (``cli/quick_status.py``). Light on purpose: rich and orjson,
no store, no SQLAlchemy (issue 12 item 5); rich only once a table is drawn (``--json`` needs
none)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from modelsync.config import ResolvedGateway
    from modelsync.sync.health import StatusFields

HEALTH_STYLE = {
    "pending": "cyan",
    "ok": "green",
    "degraded": "yellow",
    "failing": "bold red",
    "disabled": "dim",
}


def emit_json(data: Any) -> None:
    """A command's ``--json``: one indented JSON object on stdout."""
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def status_document(
    rows: list[dict[str, Any]], processes: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """PURE: what ``modelsync status --json`` prints (``processes``: none asking a server that
    does not list them)."""
    return {"gateways": rows} if processes is None else {"gateways": rows, "processes": processes}


def registered(
    states: Sequence[StatusFields],
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


def now() -> datetime:
    """The host's clock, which the tables' relative times are measured from."""
    return datetime.now(UTC)


def render_processes(console: Console, rows: Sequence[dict[str, Any]]) -> None:
    """The fleet under the gateways' table: one line per serving process."""
    if not rows:
        console.print("[dim]no serving process (modelsync serve) is registered[/]")
        return
    at = now()
    table = _table()
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
            relative(row["last_seen_at"], at),
            state,
        )
    console.print(table)


def _table() -> Table:
    from rich.table import Table

    return Table(box=None, pad_edge=False, expand=False)


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
    at = now()
    table = _table()
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
            relative(row["last_success_at"], at),
            relative(row["next_run_at"], at),
            str(row["consecutive_failures"]),
            _last_error(row),
        )
    console.print(table)


def show_status(
    rows: list[dict[str, Any]],
    processes: list[dict[str, Any]] | None,
    *,
    json: bool,
    console: Console | None = None,
) -> None:
    """Print a status: the JSON document, or the gateways' table and the fleet's under it."""
    if json:
        emit_json(status_document(rows, processes))
        return
    if console is None:
        from rich.console import Console

        console = Console()
    render_status(console, rows)
    if processes is not None:
        render_processes(console, processes)
