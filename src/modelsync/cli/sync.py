"""``modelsync sync``: run the pipeline in this process and report per gateway."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from modelsync.cli.remote import remote_sync
from modelsync.config import Settings
from modelsync.domain import ChangeSource, RunOutcome
from modelsync.reference.service import ReferencePrices
from modelsync.runtime import Runtime, open_runtime
from modelsync.store.base import ChangeSelection
from modelsync.sync.runner import RunSummary

NEWEST = ChangeSelection(newest_first=True)

OUTCOME_STYLE = {
    RunOutcome.CHANGED: "bold green",
    RunOutcome.UNCHANGED: "dim",
    RunOutcome.NOT_MODIFIED: "dim",
    RunOutcome.FAILED: "bold red",
    RunOutcome.REJECTED: "bold yellow",
    RunOutcome.DISABLED: "dim italic",
}


@dataclass(frozen=True, slots=True)
class SyncReport:
    catalog_version: int
    gateways: Sequence[RunSummary]
    changes_since: int | None = None
    """The newest change's seq before these runs: ``modelsync changes --since`` it shows theirs."""

    @property
    def ok(self) -> bool:
        return all(summary.ok for summary in self.gateways)

    def to_json(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "catalog_version": self.catalog_version,
            "gateways": [summary.to_json() for summary in self.gateways],
        }
        if self.changes_since is not None:
            report["changes_since"] = self.changes_since
        return report

    @property
    def changed(self) -> bool:
        """Whether any run recorded a change."""
        return any(
            summary.added or summary.updated or summary.removed or summary.restored
            for summary in self.gateways
        )


class Progress:
    """The spinner's text while ``sync`` runs on a terminal: how many gateways are done."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.finished = 0
        self.last: str | None = None

    def done(self, gateway: str) -> str:
        """Count ``gateway`` done; the new text."""
        self.finished += 1
        self.last = gateway
        return self.text()

    def text(self) -> str:
        last = f" (last: {self.last})" if self.last else ""
        return f"syncing: {self.finished} of {self.total} gateway(s) done{last}…"


def _counts(summary: RunSummary) -> str:
    parts = [f"+{summary.added}", f"~{summary.updated}", f"-{summary.removed}"]
    if summary.restored:
        parts.append(f"restored {summary.restored}")
    if summary.missing:
        parts.append(f"missing {summary.missing}")
    return " ".join(parts)


def _line(summary: RunSummary) -> str:
    style = OUTCOME_STYLE[summary.outcome]
    text = f"[{style}]{summary.outcome.value:>12}[/] {summary.gateway:<18}"
    if summary.outcome is RunOutcome.DISABLED:
        return f"{text} {summary.error}"
    text += f" {_counts(summary):<16} {summary.total_models:>6} models {summary.duration_ms:>6} ms"
    if summary.error:
        text += f"  [red]{summary.error}[/]"
    for key, reason in summary.quarantined.items():
        text += f"\n{'':>13} [yellow]quarantined[/] {key}: {reason}"
    for warning in summary.warnings:
        text += f"\n{'':>13} [yellow]warning[/] {warning}"
    if summary.filtered:
        left_out = ", ".join(f"{count} {reason}" for reason, count in summary.filtered.items())
        text += f"\n{'':>13} filtered out by design: {left_out}"
    return text


def render_footer(console: Console, report: SyncReport) -> None:
    """One closing line: the catalog version and how the runs went."""
    tally: dict[str, int] = {}
    for summary in report.gateways:
        tally[summary.outcome.value] = tally.get(summary.outcome.value, 0) + 1
    outcomes = ", ".join(f"{count} {outcome}" for outcome, count in tally.items())
    style = "green" if report.ok else "red"
    console.print(f"[{style}]catalog version {report.catalog_version}[/]: {outcomes}")
    if report.changed and report.changes_since is not None:
        console.print(
            f"changes: modelsync changes --since {report.changes_since}",
            highlight=False,
            soft_wrap=True,
        )


async def refresh_references(
    runtime: Runtime, names: Sequence[str], console: Console | None
) -> list[RunSummary]:
    """Fetch the due reference price catalogs; re-price (trigger ``reference``) those of
    ``names`` whose reference prices changed, before their own runs."""
    references = runtime.runner.references
    if not isinstance(references, ReferencePrices) or not references.enabled:
        return []
    await references.load()
    changed: set[str] = set()
    for name in references.due(runtime.clock.now()):
        changed |= await references.refresh(name)
    summaries = await references.reprice(runtime.runner, changed & set(names))
    if console is not None:
        for item in references.status():
            if item["last_error"]:
                console.print(f"[yellow]reference {item['name']}[/]: {item['last_error']}")
        for summary in summaries:
            console.print(f"reference prices: {_line(summary)}")
    return summaries


async def run_sync(
    settings: Settings, names: Sequence[str], *, full: bool, console: Console | None
) -> SyncReport:
    """Sync ``names``; with a console, show each gateway as it finishes, then the table."""
    async with open_runtime(settings) as runtime:
        newest = await runtime.store.list_changes(limit=1, select_by=NEWEST)
        since = newest[0].seq if newest else 0
        await refresh_references(runtime, names, console)
        if console is None:
            summaries = await runtime.runner.run_many(names, trigger=ChangeSource.MANUAL, full=full)
        else:
            progress = Progress(len(names))
            with console.status(progress.text()) as shown:

                def done(summary: RunSummary) -> None:
                    console.print(_line(summary))
                    shown.update(progress.done(summary.gateway))

                summaries = await runtime.runner.run_many(
                    names, trigger=ChangeSource.MANUAL, full=full, on_done=done
                )
        report = SyncReport(await runtime.store.catalog_version(), summaries, since)
    if console is not None:
        render_footer(console, report)
    return report


def run_remote_sync(
    settings: Settings, base_url: str, gateway: str, *, json_output: bool
) -> SyncReport:
    """``POST /api/sync/models`` on a running server; rendered like the in-process command."""
    token = settings.admin_token.get_secret_value() if settings.admin_token else None
    console = None if json_output else Console()
    if console is None:
        version, summaries = remote_sync(base_url, token, gateway)
    else:
        with console.status(f"syncing {gateway} on {base_url}…"):
            version, summaries = remote_sync(base_url, token, gateway)
        for summary in summaries:
            console.print(_line(summary))
    report = SyncReport(version, summaries)
    if console is not None:
        render_footer(console, report)
    return report
