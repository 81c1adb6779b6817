"""Mutations through the admin API show in the next response; bad admin input changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from simulator_helpers import fetch, ids_of, items_of, simulator, walk

from modelsync.simulator.shapes import get_path


async def _mutate(client: Any, **payload: Any) -> Any:
    response = await client.post("/_admin/mutate", json=payload)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("gateway", "model_id", "name_path", "name"),
    [
        ("openrouter", "acme/helix-3-70b", "name", "Helix 3 70B"),
        ("google", "gemini-9.0-ultra", "displayName", "Gemini 9.0 Ultra"),
        ("fal", "fal-ai/helix/v1-turbo", "metadata.display_name", "V1 Turbo"),
        ("groq", "acme/helix-3-70b", None, None),
    ],
)
async def test_add_clones_an_entry(
    gateway: str, model_id: str, name_path: str | None, name: str | None
) -> None:
    """A cloned model appears under its new id, named after it, at the end of the list."""
    async with simulator() as (client, state):
        before = len(state.gateways[gateway].entries)
        answer = await _mutate(client, gateway=gateway, op="add", model_id=model_id)
        items, _ = await walk(client, gateway)
    assert answer["changes"] == {"status": [None, "present"]}
    assert answer["model_count"] == before + 1
    assert ids_of(gateway, items)[-1] == model_id
    if name_path:
        assert get_path(items[-1], name_path) == name


async def test_add_given_entry_and_invented_id() -> None:
    """``value`` adds an entry as given; without ``model_id`` a plausible new id is invented."""
    entry = {"id": "acme/given-1", "display_name": "Given", "pricing": {"input": 1, "output": 2}}
    async with simulator() as (client, state):
        await _mutate(client, gateway="together", op="add", value=entry)
        invented = await _mutate(client, gateway="openrouter", op="add")
        together = (await fetch(client, "together")).json()
        known = state.gateways["openrouter"].ids()
    assert together[-1] == entry
    assert invented["model_id"] in known
    assert "/" in invented["model_id"]


@pytest.mark.parametrize(
    ("gateway", "model_id", "factor", "path", "expected"),
    [
        ("openrouter", "openai/gpt-4o-mini", 2, "pricing.prompt", "0.0000003"),
        ("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo", 0.5, "pricing.input", 0.44),
        ("xai", "grok-3", 1.1, "prompt_text_token_price", 33000),
        ("near", "zai-org/GLM-4.6", 2, "inputCostPerToken.amount", 1500),
        ("huggingface", "openai/gpt-oss-20b", 2, "providers.1.pricing.input", 0.1),
        ("aimo", "gpt-oss-120b", 10, "providers.0.pricing.completion", "0.0000025"),
        ("vercel-ai-gateway", "openai/gpt-5", 0.8, "pricing.output", "0.000008"),
        ("nebius", "Qwen/Qwen3-32B", 3, "pricing.prompt", "0.0000003"),
    ],
)
async def test_reprice_in_the_gateway_unit(
    gateway: str, model_id: str, factor: float, path: str, expected: Any
) -> None:
    """Prices are multiplied in the gateway's own unit and type, and show at once."""
    params = {"verbose": "true"} if gateway == "nebius" else {}
    async with simulator() as (client, _):
        answer = await _mutate(
            client, gateway=gateway, op="reprice", model_id=model_id, factor=factor
        )
        items, _ = await walk(client, gateway, params)
    entry = dict(zip(ids_of(gateway, items), items, strict=True))[model_id]
    assert get_path(entry, path) == expected
    assert answer["changes"][path][1] == expected


@pytest.mark.parametrize("gateway", ["groq", "cerebras", "fireworks", "google", "fal"])
async def test_reprice_without_prices_is_a_400(gateway: str) -> None:
    """A gateway whose list carries no prices refuses a reprice with a clear message."""
    async with simulator() as (client, state):
        response = await client.post(
            "/_admin/mutate", json={"gateway": gateway, "op": "reprice", "factor": 2}
        )
        assert state.gateways[gateway].log == type(state.gateways[gateway].log)()
    assert response.status_code == 400
    assert "no prices" in response.json()["error"]


async def test_rename_remove_restore_and_set_field() -> None:
    """Rename, remove, restore (at its old place) and set_field each show in the next list."""
    async with simulator() as (client, state):
        google = state.gateways["google"]
        first, second = google.ids()[:2]
        await _mutate(client, gateway="google", op="rename", model_id=first, name="Renamed")
        await _mutate(client, gateway="google", op="remove", model_id=second)
        renamed = (await fetch(client, "google")).json()["models"]
        await _mutate(client, gateway="google", op="restore", model_id=second)
        await _mutate(
            client,
            gateway="google",
            op="set_field",
            model_id=f"models/{first}",
            field="inputTokenLimit",
            value=2048,
        )
        restored = (await fetch(client, "google")).json()["models"]
    assert renamed[0]["displayName"] == "Renamed"
    assert f"models/{second}" not in [item["name"] for item in renamed]
    assert restored[1]["name"] == f"models/{second}"
    assert restored[0]["inputTokenLimit"] == 2048


async def test_mutations_without_a_model_id_pick_one() -> None:
    """Without model_id a model is picked (seeded); a rename without name toggles a suffix."""
    async with simulator() as (client, state):
        renamed = await _mutate(client, gateway="vercel-ai-gateway", op="rename")
        removed = await _mutate(client, gateway="groq", op="remove")
        restored = await _mutate(client, gateway="groq", op="restore")
        log = (await client.get("/_admin/state?gateway=groq")).json()["gateways"]["groq"]
    old, new = next(iter(renamed["changes"].values()))
    assert new == f"{old} (Preview)"
    assert removed["model_id"] == restored["model_id"]
    assert [entry["op"] for entry in log["mutations"]] == ["remove", "restore"]
    assert state.gateways["groq"].removed == {}


async def test_reset_returns_to_the_seed() -> None:
    """Reset brings back the seed catalog and clears faults and counters."""
    async with simulator() as (client, state):
        seed_ids = state.gateways["near"].ids()
        await _mutate(client, gateway="near", op="remove", model_id=seed_ids[0])
        await client.post("/_admin/fault", json={"gateway": "near", "kind": "http_500"})
        one = await client.post("/_admin/reset?gateway=near")
        everything = await client.post("/_admin/reset")
        near = (await client.get("/_admin/state?gateway=near")).json()["gateways"]["near"]
        items = items_of("near", (await fetch(client, "near")).json())
    assert one.json() == {"reset": ["near"]}
    assert len(everything.json()["reset"]) == 13
    assert near["faults"] == []
    assert near["mutations"] == []
    assert ids_of("near", items) == seed_ids


BAD_INPUT = [
    (b"not json", 400),
    (b"[1, 2]", 400),
    ({"gateway": "nope", "op": "add"}, 404),
    ({"gateway": "groq", "op": "explode"}, 422),
    ({"gateway": "groq", "op": "remove", "model_id": "no-such-model"}, 404),
    ({"gateway": "groq", "op": "remove", "model_id": 7}, 422),
    ({"gateway": "openrouter", "op": "reprice", "model_id": "openai/gpt-5", "factor": "2"}, 422),
    ({"gateway": "openrouter", "op": "reprice", "model_id": "openai/gpt-5", "factor": -1}, 422),
    ({"gateway": "openrouter", "op": "reprice", "model_id": "openai/gpt-5"}, 422),
    ({"gateway": "groq", "op": "rename", "name": "x"}, 400),
    ({"gateway": "openrouter", "op": "rename", "model_id": "openai/gpt-5", "name": ""}, 422),
    ({"gateway": "openrouter", "op": "set_field", "model_id": "openai/gpt-5", "field": "x"}, 422),
    ({"gateway": "openrouter", "op": "set_field", "field": "id", "value": "y"}, 422),
    ({"gateway": "openrouter", "op": "set_field", "field": "a..b", "value": 1}, 422),
    ({"gateway": "openrouter", "op": "set_field", "field": "name.x", "value": 1}, 422),
    ({"gateway": "openrouter", "op": "add", "model_id": "openai/gpt-5"}, 422),
    ({"gateway": "openrouter", "op": "add", "value": [1]}, 422),
    ({"gateway": "openrouter", "op": "add", "value": {"name": "no id"}}, 422),
    ({"gateway": "openrouter", "op": "restore", "model_id": "openai/gpt-5"}, 404),
    (
        {
            "gateway": "fal",
            "op": "add",
            "name": "N",
            "value": {"endpoint_id": "a/b", "metadata": 1},
        },
        422,
    ),
    ({"gateway": "openrouter", "op": "restore"}, 404),
]


@pytest.mark.parametrize(("payload", "status"), BAD_INPUT)
async def test_bad_mutations_change_nothing(payload: Any, status: int) -> None:
    """Bad input answers 400/404/422 with a JSON error and leaves every gateway as it was."""
    body = payload if isinstance(payload, bytes) else None
    async with simulator() as (client, state):
        before = {name: (g.version, g.ids()) for name, g in state.gateways.items()}
        response = await client.post("/_admin/mutate", content=body, json=None if body else payload)
        after = {name: (g.version, g.ids()) for name, g in state.gateways.items()}
    assert response.status_code == status
    assert isinstance(response.json()["error"], str)
    assert after == before
