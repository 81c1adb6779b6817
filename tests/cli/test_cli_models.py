"""``modelsync models``: the catalog with its units, and ``--unmatched``, on a synced database."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from modelsync.cli.app import app
from sync.runner_harness import open_harness


def seeded_database(tmp_path: Path) -> str:
    """A SQLite file with groq and openrouter synced from the simulator's built-in catalogs."""

    async def seed() -> None:
        async with open_harness(tmp_path) as harness:
            runner = await harness.runner()
            for gateway in ("groq", "openrouter"):
                await runner.run(gateway)

    asyncio.run(seed())
    return f"sqlite+aiosqlite:///{tmp_path / 'modelsync.db'}"


@pytest.fixture
def invoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A CLI runner on the seeded database; the logging the command configured is put back
    (it points at the runner's captured stderr, closed once the command ends)."""
    monkeypatch.setenv("MODELSYNC_DATABASE_URL", seeded_database(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    saved, handlers = structlog.get_config(), logging.root.handlers[:]
    yield CliRunner()
    structlog.configure(**saved)
    logging.root.handlers[:] = handlers


def test_unmatched_json_and_table(invoke: CliRunner) -> None:
    """``--unmatched`` prints what the API answers, or a table with the candidates."""
    done = invoke.invoke(app, ["models", "--unmatched", "--gateway", "groq", "--json"])
    assert done.exit_code == 0, done.output
    page = json.loads(done.output)
    assert page["total"] == page["count"] > 0
    assert {row["gateway"] for row in page["models"]} == {"groq"}
    table = invoke.invoke(app, ["models", "--unmatched", "--gateway", "groq"])
    assert table.exit_code == 0, table.output
    assert f"{page['count']} of {page['total']} models offered by one gateway only" in table.output
    for row in page["models"]:
        assert row["id"] in table.output


def test_models_table_says_its_price_unit(invoke: CliRunner) -> None:
    """The listing names the unit of its prices."""
    done = invoke.invoke(app, ["models", "--gateway", "openrouter", "--limit", "5"])
    assert done.exit_code == 0, done.output
    assert "USD/1M tokens" in done.output
    assert "5 models" in done.output


def test_unknown_gateway_exits_2(invoke: CliRunner) -> None:
    """An unknown gateway is one line and exit code 2."""
    done = invoke.invoke(app, ["models", "--unmatched", "--gateway", "nope"])
    assert done.exit_code == 2
    assert "unknown gateway 'nope'" in done.output
