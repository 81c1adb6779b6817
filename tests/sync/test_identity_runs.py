"""Identity around real runs: overrides on fresh snapshots, and stored ids migrated on start."""

from __future__ import annotations

from pathlib import Path

import pytest
from runner_harness import models_of, open_harness

from modelsync.clock import SystemClock
from modelsync.config import load_settings
from modelsync.domain import ChangeKind, ChangeSource, RunOutcome
from modelsync.errors import ConfigError
from modelsync.identity import IdentityOverrides

OLD_RULES = {
    # What groq's built-in catalog got before issue 9 (the rules of the first release).
    "groq:llama-3.3-70b-versatile": "meta-llama/llama-3.3-70b-versatile",
    "groq:llama-3.1-8b-instant": "meta-llama/llama-3.1-8b-instant",
}


async def test_pins_apply_to_runs_and_lifting_them_migrates_stored_ids(tmp_path: Path) -> None:
    """Old ids are renamed once on start, with their history, and the next poll is quiet."""
    async with open_harness(tmp_path) as harness:
        old = await harness.runner(identity=IdentityOverrides.parse(OLD_RULES, {}))
        store = harness.stores[0]
        assert (await old.identity.migrate(store, SystemClock())) is not None  # empty: stamps
        assert (await old.run("groq")).outcome is RunOutcome.CHANGED
        before = await models_of(store, "groq")
        assert before["llama-3.3-70b-versatile"].model.id == "meta-llama/llama-3.3-70b-versatile"
        assert before["llama-3.3-70b-versatile"].model.variants == ("versatile",)

        new = await harness.runner(store=store, owner="runner-b")
        migration = await new.identity.migrate(store, SystemClock())
        assert migration is not None
        assert migration.renamed == 2
        after = await models_of(store, "groq")
        assert after["llama-3.3-70b-versatile"].model.id == "meta-llama/llama-3.3-70b-instruct"
        history = await store.list_changes(model="meta-llama/llama-3.3-70b-instruct")
        assert [(c.change.kind, c.source) for c in history] == [
            (ChangeKind.ADDED, ChangeSource.MANUAL),
            (ChangeKind.UPDATED, ChangeSource.IDENTITY),
        ]
        assert history[1].change.fields == {
            "id": ("meta-llama/llama-3.3-70b-versatile", "meta-llama/llama-3.3-70b-instruct")
        }
        assert await store.list_changes(model="meta-llama/llama-3.3-70b-versatile") == []
        assert await new.identity.migrate(store, SystemClock()) is None
        assert (await new.run("groq", full=True)).outcome is RunOutcome.UNCHANGED


async def test_an_alias_merges_offers_on_the_next_run(tmp_path: Path) -> None:
    """An alias added by the operator renames the stored offers and applies to new snapshots."""
    async with open_harness(tmp_path) as harness:
        runner = await harness.runner()
        store = harness.stores[0]
        await runner.run("groq")
        alias = IdentityOverrides.parse({}, {"qwen/qwen-3-32b": "qwen/qwen-3-32b-groq"})
        merged = await harness.runner(store=store, identity=alias, owner="runner-b")
        await merged.identity.migrate(store, SystemClock())
        [offer] = await store.model_offers("qwen/qwen-3-32b-groq")
        assert offer.model.gateway_model_id == "qwen/qwen3-32b"
        await harness.mutate(
            gateway="groq",
            op="set_field",
            model_id="qwen/qwen3-32b",
            field="context_window",
            value=65536,
        )
        assert (await merged.run("groq")).outcome is RunOutcome.CHANGED
        assert [o.model.id for o in await store.model_offers("qwen/qwen-3-32b")] == []
        [repriced] = await store.model_offers("qwen/qwen-3-32b-groq")
        assert repriced.model.id == "qwen/qwen-3-32b-groq"


@pytest.mark.parametrize(
    ("pins", "message"),
    [
        ({"groq-llama": "meta-llama/x"}, "gateway:raw model id"),
        ({"groq:x": "Not An Id"}, "is not a canonical id"),
    ],
)
def test_malformed_pins_are_refused_when_settings_load(pins: dict[str, str], message: str) -> None:
    """A bad ``[identity]`` table is one ConfigError naming the entry, at load time."""
    with pytest.raises(ConfigError, match=message):
        load_settings(identity={"pins": pins})
