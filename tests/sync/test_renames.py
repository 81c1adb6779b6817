"""A gateway model id whose case or spacing changes upstream: one update, one offer, no removal."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from runner_harness import Harness, open_harness

from modelsync.domain import ChangeKind, RunOutcome
from modelsync.simulator.state import SimulatorState

SONNET = "anthropic/claude-sonnet-4.5"


def entry_of(harness: Harness, gateway: str, model_id: str) -> dict[str, Any]:
    """A copy of the simulator's raw entry of one model."""
    simulator: SimulatorState = harness.app.state.simulator
    state = simulator.gateway(gateway)
    index = state.index_of(model_id)
    assert index is not None
    entry: dict[str, Any] = copy.deepcopy(state.entries[index])
    return entry


@pytest.mark.parametrize(
    "renamed", ["Anthropic/Claude-Sonnet-4.5", " anthropic/claude-sonnet-4.5 "]
)
async def test_an_id_whose_case_or_spacing_changed_is_one_update(
    tmp_path: Path, renamed: str
) -> None:
    """Old id gone, new id there, same canonical id: an update of the one offer, never an
    addition beside a missing model, and never a removal later."""
    async with open_harness(tmp_path) as harness:
        runner = await harness.runner()
        await runner.run("openrouter")
        store = harness.stores[0]
        seq = (await store.list_changes(gateway="openrouter", limit=10_000))[-1].seq
        entry = entry_of(harness, "openrouter", SONNET)
        entry["id"] = renamed
        await harness.mutate(gateway="openrouter", op="add", model_id=renamed, value=entry)
        await harness.mutate(gateway="openrouter", op="remove", model_id=SONNET)
        moved = await runner.run("openrouter")
        offers = await store.model_offers(SONNET)
        later = [await runner.run("openrouter") for _ in range(3)]
        after = await store.model_offers(SONNET)
        changes = await store.list_changes(since=seq, gateway="openrouter")
    assert (moved.outcome, moved.added, moved.updated, moved.removed, moved.missing) == (
        RunOutcome.CHANGED,
        0,
        1,
        0,
        0,
    )
    assert [offer.model.gateway_model_id for offer in offers] == [renamed]
    assert [offer.model.gateway_model_id for offer in after] == [renamed]
    assert offers[0].status.value == "active"
    assert {run.outcome for run in later} <= {RunOutcome.UNCHANGED, RunOutcome.NOT_MODIFIED}
    assert [(c.change.kind, c.change.id, dict(c.change.fields)) for c in changes] == [
        (ChangeKind.UPDATED, SONNET, {"gateway_model_id": (SONNET, renamed)})
    ]
