"""Filtered entries are counted (issue 9 item 6): what an adapter leaves out by design is in the
run summary with its reason, through the runner, the simulator and a real SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from runner_harness import Harness, models_of, open_harness


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(tmp_path) as opened:
        yield opened


async def test_fireworks_and_fal_count_what_they_leave_out(harness: Harness) -> None:
    """Fireworks' private fine-tune and fal's training endpoints: counted by reason in the
    summary, its JSON and the stored run (tests/gateways/test_fireworks.py keeps the other
    accounts' public models of the recorded capture)."""
    runner = await harness.runner()
    fireworks, fal = await runner.run_many(["fireworks", "fal"])
    assert fireworks.ok
    assert fal.ok
    assert fireworks.filtered == {"private fine-tune (HF_PEFT_ADDON)": 1}
    assert fal.filtered == {"training endpoint": sum(fal.filtered.values())}
    assert fal.filtered["training endpoint"] >= 1
    assert fal.to_json()["filtered"] == dict(fal.filtered)
    stored = await models_of(harness.stores[0], "fireworks")
    assert fireworks.total_models == len(stored)
    [run] = await harness.stores[0].list_runs(gateway="fireworks", limit=1)
    assert run.record.filtered == fireworks.filtered
