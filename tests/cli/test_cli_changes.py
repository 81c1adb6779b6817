"""``modelsync changes``: the newest first, one run's, one kind's, one model's, after a cursor,
from a running server; prices and context first in the table; a pruned cursor said so.

The database is synced from the simulator's built-in catalogs (groq and openrouter), then a
reprice, a rename with a long description and a removal are synced, so every kind of answer has
something to show.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
import uvicorn
from typer.testing import CliRunner

from conftest import serving
from modelsync.cli.app import app
from modelsync.cli.views import field_lines
from modelsync.config import load_settings
from modelsync.store import create_store
from modelsync.store.base import RetentionPolicy
from modelsync.web.app import create_app
from sync.runner_harness import open_harness

SONNET = "anthropic/claude-sonnet-4.5"
LONG_ID = "meta-llama/llama-4-maverick-17b-128e-instruct"
"""A groq model whose id is longer than a narrow table's column."""


def seed(tmp_path: Path) -> dict[str, int]:
    """Sync groq and openrouter, then a reprice, a rename and a removal; the runs' ids."""
    runs: dict[str, int] = {}

    async def play() -> None:
        async with open_harness(tmp_path) as harness:
            runner = await harness.runner()
            for gateway in ("groq", "openrouter"):
                await runner.run(gateway)
            await harness.mutate(gateway="openrouter", op="reprice", model_id=SONNET, factor=2)
            await harness.mutate(
                gateway="openrouter", op="rename", model_id=SONNET, name="Sonnet " + "word " * 40
            )
            await runner.run("openrouter")
            await harness.mutate(gateway="groq", op="remove", model_id=LONG_ID)
            await runner.run("groq")
            await runner.run("groq")  # the second missing poll removes it
            store = harness.stores[0]
            for run in await store.list_runs(limit=100):
                runs.setdefault(f"{run.record.gateway}-{run.record.outcome.value}", run.id)

    asyncio.run(play())
    return runs


@pytest.fixture
def invoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A CLI runner on the seeded database; the logging a command configured is put back."""
    monkeypatch.setenv("MODELSYNC_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'modelsync.db'}")
    monkeypatch.setenv("COLUMNS", "80")  # narrow: ids must still come out whole
    saved, handlers = structlog.get_config(), logging.root.handlers[:]
    yield CliRunner()
    structlog.configure(**saved)
    logging.root.handlers[:] = handlers


@pytest.fixture
def seeded(tmp_path: Path) -> dict[str, int]:
    return seed(tmp_path)


def page_of(invoke: CliRunner, *args: str) -> dict[str, Any]:
    done = invoke.invoke(app, ["changes", *args, "--json"])
    assert done.exit_code == 0, done.output
    page: dict[str, Any] = json.loads(done.stdout)
    return page


def test_last_is_newest_first(invoke: CliRunner, seeded: dict[str, int]) -> None:
    page = page_of(invoke, "--last", "2")
    seqs = [change["seq"] for change in page["changes"]]
    assert seqs == sorted(seqs, reverse=True)
    assert [change["kind"] for change in page["changes"]] == ["removed", "updated"]
    assert page["next"] == seqs[0]
    assert page["truncated"] is False


def test_filters_run_kind_model_gateway(invoke: CliRunner, seeded: dict[str, int]) -> None:
    updated = page_of(invoke, "--kind", "updated")["changes"]
    assert [(change["kind"], change["gateway_model_id"]) for change in updated] == [
        ("updated", SONNET)
    ]
    by_run = page_of(invoke, "--run", str(seeded["openrouter-changed"]))["changes"]
    assert by_run
    assert {change["gateway"] for change in by_run} == {"openrouter"}
    by_model = page_of(invoke, "--model", SONNET, "--gateway", "openrouter")["changes"]
    assert [change["kind"] for change in by_model] == ["added", "updated"]
    refused = invoke.invoke(app, ["changes", "--kind", "renamed"])
    assert refused.exit_code == 2
    assert "use one of added, updated, removed, restored" in refused.stderr


def test_table_prices_first_with_units_and_whole_ids(
    invoke: CliRunner, seeded: dict[str, int]
) -> None:
    done = invoke.invoke(app, ["changes", "--last", "2"])
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    header = next(line for line in lines if LONG_ID in line)  # the removal: whole, on one line
    assert header.endswith(f"groq  removed  {LONG_ID}")
    at = next(index for index, line in enumerate(lines) if line.endswith(SONNET))
    assert lines[at + 1] == "    pricing.prompt: 3 -> 6 USD per 1M tokens"
    assert lines[at + 2] == "    pricing.completion: 15 -> 30 USD per 1M tokens"
    assert lines[at + 3].startswith("    name: Anthropic: Claude Sonnet 4.5 -> Sonnet word")
    assert lines[at + 3].endswith("word …")  # a long value is cut at a word
    assert lines[-1].startswith("next: modelsync changes --since ")


def test_field_lines_order_and_units() -> None:
    """PURE: prices and context first, each with its unit; others after, in their order."""
    lines = field_lines(
        {
            "description": ["a", "b"],
            "context_length": [8192, 131072],
            "pricing.image": ["0.01", "0.02"],
            "pricing.prompt": ["1", None],
        }
    )
    assert lines == [
        "context_length: 8192 -> 131072 tokens",
        "pricing.image: 0.01 -> 0.02 USD per image",
        "pricing.prompt: 1 -> none USD per 1M tokens",
        "description: a -> b",
    ]


def test_a_pruned_cursor_is_said(invoke: CliRunner, tmp_path: Path, seeded: dict[str, int]) -> None:
    """Retention keeps the newest 5 changes: a cursor before them is truncated, in the JSON and
    the table; a cursor among them is not."""

    async def prune() -> None:
        store = create_store(f"sqlite+aiosqlite:///{tmp_path / 'modelsync.db'}")
        await store.open()
        try:
            policy = RetentionPolicy(
                runs_days=30, runs_keep_per_gateway=1000, changes_days=365, changes_keep=5,
                removed_models_days=90,
            )  # fmt: skip
            await store.prune(policy, now=datetime.now(UTC))
        finally:
            await store.close()

    asyncio.run(prune())
    newest = page_of(invoke, "--last", "5")["changes"]
    oldest = newest[-1]["seq"]
    page = page_of(invoke, "--since", "1")
    assert (page["truncated"], page["oldest_seq"]) == (True, oldest)
    assert page["changes"][0]["seq"] == oldest
    assert page_of(invoke, "--since", str(oldest - 1))["truncated"] is False
    table = invoke.invoke(app, ["changes", "--since", "1"])
    assert f"note: retention pruned changes after that cursor; the oldest kept is #{oldest}" in (
        table.stdout
    )


def test_remote_answers_the_same(
    invoke: CliRunner, tmp_path: Path, seeded: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--remote`` asks a running server (uvicorn on loopback) and prints the same page."""
    local = page_of(invoke, "--last", "3", "--gateway", "openrouter")
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'modelsync.db'}")
    config = uvicorn.Config(
        create_app(settings, run_scheduler=False), log_level="warning", lifespan="on"
    )
    with serving(uvicorn.Server(config)) as base:
        remote = page_of(invoke, "--last", "3", "--gateway", "openrouter", "--remote", base)
        truncated = page_of(invoke, "--since", "0", "--kind", "removed", "--remote", base)
    assert remote == local
    assert [change["kind"] for change in truncated["changes"]] == ["removed"]
