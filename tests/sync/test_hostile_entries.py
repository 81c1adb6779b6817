"""Never blown up by input: a hostile entry is quarantined by name (issue 9 item 4; until then it
rejected the snapshot), its model left as it was; the rest of the snapshot applies."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from runner_harness import Harness, models_of, open_harness

from modelsync.domain import RunOutcome
from modelsync.guard import GuardPolicy
from modelsync.simulator.state import SimulatorState
from modelsync.store import migrate
from modelsync.store.sql import SqlStore
from store.conftest import drop_postgres_database, new_postgres_database

SONNET = "anthropic/claude-sonnet-4.5"


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """The simulator and a database file of this test's own."""
    async with open_harness(tmp_path) as opened:
        yield opened


def entry_of(harness: Harness, model_id: str) -> dict[str, Any]:
    """A copy of the simulator's OpenRouter entry of one model."""
    simulator: SimulatorState = harness.app.state.simulator
    state = simulator.gateway("openrouter")
    index = state.index_of(model_id)
    assert index is not None
    entry: dict[str, Any] = copy.deepcopy(state.entries[index])
    return entry


async def add_with_id(harness: Harness, raw_id: str, **fields: Any) -> None:
    """Add an OpenRouter model cloned from Sonnet under ``raw_id``, with ``fields`` set."""
    entry = entry_of(harness, SONNET) | {"id": raw_id} | fields
    await harness.mutate(gateway="openrouter", op="add", model_id=raw_id, value=entry)


CASES = [
    ("price", {"field": "pricing.prompt", "value": "1e999990"},
     "pricing.prompt '1e999990' is out of range"),
    ("price", {"field": "pricing.completion", "value": "1e308"},
     "pricing.completion '1e308' is out of range"),
    ("price", {"field": "pricing.prompt", "value": "2"},
     "the prompt price 2.000e+6 is outside"),
    ("context", {"field": "context_length", "value": 10**30},
     "context_length 1.000e+30 is outside"),
    ("context", {"field": "top_provider.max_completion_tokens", "value": 10**15},
     "max_output_tokens"),
    ("text", {"field": "description", "value": "x" * 200_000},
     "the description is 200,000 characters long"),
    ("nul", {"field": "name", "value": "Claude\x00"}, "NUL"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "mutation", "reason"), CASES, ids=[c[0] for c in CASES])
async def test_an_out_of_bounds_value_is_quarantined_by_name(
    harness: Harness, kind: str, mutation: dict[str, Any], reason: str
) -> None:
    """A bad number or text in one entry of 21: set aside with its reason (short), the model
    stored as it was, nothing else moved."""
    runner = await harness.runner()
    await runner.run("openrouter")
    store = harness.stores[0]
    before = await models_of(store, "openrouter")
    await harness.mutate(gateway="openrouter", op="set_field", model_id=SONNET, **mutation)
    summary = await runner.run("openrouter")
    assert summary.ok, summary
    assert (summary.added, summary.updated, summary.missing) == (0, 0, 0)
    assert list(summary.quarantined) == [SONNET]
    assert reason in summary.quarantined[SONNET]
    assert len(summary.quarantined[SONNET]) < 400
    after = await models_of(store, "openrouter")
    assert {k: v.model for k, v in after.items()} == {k: v.model for k, v in before.items()}
    assert after[SONNET].status is before[SONNET].status


@pytest.mark.parametrize(
    ("raw_id", "reason"),
    [
        ("evil\x00/model", "U+0000"),
        ("evil/\u202eledom", "U+202E"),
        ("evil/line\nbreak", "U+000A"),
        ("evil/" + "x" * 10_000, "10005 characters long"),
    ],
)
async def test_a_bad_raw_id_is_quarantined_escaped(
    harness: Harness, raw_id: str, reason: str
) -> None:
    """Control and format characters, or an id past 256 characters: a bad entry, set aside
    under its escaped (and cut) id, never stored."""
    runner = await harness.runner()
    await runner.run("openrouter")
    await add_with_id(harness, raw_id)
    summary = await runner.run("openrouter")
    assert summary.ok
    [(key, why)] = summary.quarantined.items()
    assert reason in why
    assert key.startswith("'evil")
    assert len(key) < 200
    assert raw_id not in await models_of(harness.stores[0], "openrouter")


async def test_a_path_climbing_id_gets_a_safe_canonical_id(harness: Harness) -> None:
    """``../../x`` is a printable raw id: stored as given, its canonical id kept in bounds."""
    runner = await harness.runner()
    await runner.run("openrouter")
    await add_with_id(harness, "../../x")
    summary = await runner.run("openrouter")
    stored = (await models_of(harness.stores[0], "openrouter"))["../../x"]
    assert (summary.outcome, summary.added) == (RunOutcome.CHANGED, 1)
    assert stored.model.id == "openrouter/x"


async def test_more_models_than_the_bound_is_rejected_with_the_reason(harness: Harness) -> None:
    """A snapshot above ``max_models`` is refused as a whole, saying the limit and its setting."""
    runner = await harness.runner(guard=GuardPolicy(max_models=10))
    summary = await runner.run("openrouter")
    assert summary.outcome is RunOutcome.REJECTED
    assert summary.error == (
        "more than 10 models in one snapshot (the limit, MODELSYNC_GUARD__MAX_MODELS); "
        "keeping the last good catalog"
    )
    assert await models_of(harness.stores[0], "openrouter") == {}


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A migrated database of this test's own on the PostgreSQL test server."""
    url = new_postgres_database()
    try:
        asyncio.run(migrate.upgrade(url))
        yield url
    finally:
        drop_postgres_database(url)


@pytest.mark.postgres
async def test_a_nul_is_rejected_before_postgresql_sees_it(
    harness: Harness, postgres_database: str
) -> None:
    """On PostgreSQL a NUL in an id or a name is a named quarantine, never a database failure."""
    store = SqlStore(postgres_database)
    await store.open()
    try:
        runner = await harness.runner(store=store)
        await runner.run("openrouter")
        await add_with_id(harness, "evil\x00/model")
        by_id = await runner.run("openrouter")
        await harness.mutate(gateway="openrouter", op="remove", model_id="evil\x00/model")
        await harness.mutate(
            gateway="openrouter", op="set_field", model_id=SONNET, field="name", value="a\x00b"
        )
        by_name = await runner.run("openrouter")
        [state] = await store.gateway_states(["openrouter"])
    finally:
        await store.close()
    assert by_id.ok
    assert by_name.ok
    assert "U+0000" in "".join(by_id.quarantined.values())
    assert "NUL" in by_name.quarantined[SONNET]
    assert state.consecutive_failures == 0
