"""Per-entry quarantine (issue 9 item 4) through the runner, a real HTTP server (uvicorn on port 0,
serving whatever listing the test sets) and real SQLite and PostgreSQL stores.

A bad entry is set aside with its reason; the rest applies; the quarantined model keeps its last
good state (never missing); the run summary, the status and the change feed name it; above the
configured share (default 5%) the snapshot is rejected as a whole.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from runner_harness import POLICY, models_of
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conftest import serving
from modelsync.clock import SystemClock
from modelsync.config import GatewaySettings, Settings, resolve_gateways
from modelsync.domain import ChangeKind, ModelStatus, RunOutcome
from modelsync.fetch import Fetcher, build_client
from modelsync.guard import GuardPolicy
from modelsync.runtime import registrations
from modelsync.store.sql import SqlStore
from modelsync.sync.runner import RunSummary, SyncRunner
from store.conftest import BACKENDS, private_database

LISTING: dict[str, Any] = {"data": []}


async def models_route(request: Request) -> Response:
    """Whatever the test put in LISTING (an upstream that may turn hostile at any time)."""
    return JSONResponse(LISTING)


UPSTREAM = Starlette(routes=[Route("/api/v1/models", models_route)])


def entry(n: int, **fields: Any) -> dict[str, Any]:
    """A valid OpenRouter-shaped entry number ``n``."""
    raw: dict[str, Any] = {
        "id": f"acme/model-{n}",
        "name": f"Acme {n}",
        "context_length": 8192,
        "pricing": {"prompt": "0.000001", "completion": "0.000002"},
    }
    raw.update(fields)
    return raw


def catalog(count: int = 40) -> list[dict[str, Any]]:
    return [entry(n) for n in range(count)]


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    config = uvicorn.Config(UPSTREAM, lifespan="off", log_level="warning", access_log=False)
    with serving(uvicorn.Server(config)) as base:
        yield base + "/api/v1/models"


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLite file or a PostgreSQL database of this test's own."""
    with private_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def store(database: str) -> AsyncIterator[SqlStore]:
    opened = SqlStore(database)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def runner(store: SqlStore, upstream: str) -> AsyncIterator[SyncRunner]:
    """A runner of one OpenRouter-shaped gateway ``acme`` at the test server."""
    LISTING["data"] = catalog()
    settings = Settings(
        database_url="sqlite://",
        gateways={"acme": GatewaySettings(adapter="openrouter", base_url=upstream)},
    )
    gateways = {"acme": resolve_gateways(settings)["acme"]}
    await store.register_gateways(registrations(gateways))
    async with build_client(POLICY) as client:
        yield SyncRunner(
            store=store,
            fetcher=Fetcher(client, POLICY),
            gateways=gateways,
            guard=GuardPolicy(),
            clock=SystemClock(),
            owner="test",
        )


def serve(*entries: dict[str, Any]) -> None:
    LISTING["data"] = [copy.deepcopy(item) for item in entries]


async def quarantine_changes(store: SqlStore) -> list[tuple[str, Any]]:
    return [
        (record.change.gateway_model_id, record.change.fields["quarantine"][1])
        for record in await store.list_changes(since=0, gateway="acme", limit=1000)
        if record.change.kind is ChangeKind.QUARANTINED
    ]


BAD_ENTRIES = [
    ("price not a number", {"pricing": {"prompt": "abc", "completion": "0.000002"}},
     "pricing.prompt must be a number, got 'abc'"),
    ("context 128k", {"context_length": "128k"}, "context_length must be a whole number"),
    ("price out of bounds", {"pricing": {"prompt": "2", "completion": "0"}},
     "the prompt price 2.000e+6 is outside"),
    ("context out of bounds", {"context_length": 10**30}, "context_length 1.000e+30 is outside"),
    ("NUL in a name", {"name": "Acme\x00"}, "NUL"),
    ("normalization raises", {"architecture": {"input_modalities": [{"a": 1}]}},
     "must be a list of strings"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "bad", "reason"), BAD_ENTRIES, ids=[c[0] for c in BAD_ENTRIES])
async def test_a_bad_entry_is_quarantined_and_the_rest_applies(
    runner: SyncRunner, store: SqlStore, case: str, bad: dict[str, Any], reason: str
) -> None:
    """One bad entry of 40: set aside by name with its reason, its model kept as it was (not
    missing), another model's change applied, the summary, status and feed naming it once."""
    assert (await runner.run("acme")).added == 40
    before = (await models_of(store, "acme"))["acme/model-3"]
    listing = catalog()
    listing[3] = entry(3, **bad)
    listing[5] = entry(5, name="Acme Five, renamed")
    serve(*listing)
    summary = await runner.run("acme")
    assert summary.outcome is RunOutcome.CHANGED, summary
    assert summary.updated == 1
    assert list(summary.quarantined) == ["acme/model-3"]
    assert reason in summary.quarantined["acme/model-3"]
    assert summary.to_json()["quarantined"][0]["id"] == "acme/model-3"
    stored = await models_of(store, "acme")
    assert stored["acme/model-3"].model == before.model
    assert stored["acme/model-3"].status is ModelStatus.ACTIVE
    assert stored["acme/model-5"].model.name == "Acme Five, renamed"
    [state] = await store.gateway_states(["acme"])
    assert state.quarantined is not None
    assert reason in state.quarantined["acme/model-3"]
    assert state.model_count == 40
    [status] = (await store.gateway_statuses("acme")).gateways
    assert status.quarantined == state.quarantined
    assert status.run_quarantined == state.quarantined
    feed = await quarantine_changes(store)
    assert [key for key, _ in feed] == ["acme/model-3"]
    assert reason in feed[0][1]

    for _ in range(2):  # still bad: still kept, never missing, never removed, named once
        again = await runner.run("acme")
        assert again.ok
        assert (again.missing, again.removed) == (0, 0)
        assert list(again.quarantined) == ["acme/model-3"]
    assert (await models_of(store, "acme"))["acme/model-3"].status is ModelStatus.ACTIVE
    assert len(await quarantine_changes(store)) == 1

    listing[3] = entry(3, name="Acme 3, fixed")
    serve(*listing)
    fixed = await runner.run("acme")
    assert (fixed.updated, fixed.quarantined) == (1, {})
    assert (await models_of(store, "acme"))["acme/model-3"].model.name == "Acme 3, fixed"
    [state] = await store.gateway_states(["acme"])
    assert state.quarantined == {}


async def test_entries_without_an_id_or_with_a_bad_id_are_quarantined_by_place(
    runner: SyncRunner, store: SqlStore
) -> None:
    """A missing id is named by where it was, a control character escaped; neither is stored."""
    listing: list[Any] = catalog()
    listing.append({"name": "no id at all"})
    serve(*listing)
    summary = await runner.run("acme")
    assert summary.added == 40
    assert summary.quarantined == {
        "<acme page 1: data[40]>": "id must be a non-empty string, got None"
    }
    listing[40] = entry(99, id="evil/\u202eledom")
    serve(*listing)
    summary = await runner.run("acme")
    [(key, reason)] = summary.quarantined.items()
    assert key == repr("evil/\u202eledom")
    assert "U+202E" in reason
    assert len(await models_of(store, "acme")) == 40
    feed = await quarantine_changes(store)
    assert [key for key, _ in feed] == ["<acme page 1: data[40]>", repr("evil/\u202eledom")]


async def test_above_the_share_the_snapshot_is_rejected_as_a_whole(
    runner: SyncRunner, store: SqlStore
) -> None:
    """3 bad entries of 40 (7.5%, over 5%): rejected, the first named, nothing applied."""
    await runner.run("acme")
    version = await store.catalog_version()
    before = await models_of(store, "acme")
    listing = catalog()
    for n in (1, 2, 3):
        listing[n] = entry(n, context_length="128k")
    listing[5] = entry(5, name="never applied")
    serve(*listing)
    summary: RunSummary = await runner.run("acme")
    assert summary.outcome is RunOutcome.REJECTED
    assert summary.error is not None
    assert summary.error.startswith("acme: 3 of 40 entries are not valid, more than 5% ")
    assert "'acme/model-1': context_length must be a whole number" in summary.error
    assert summary.error.endswith("the snapshot is rejected and the last good catalog kept")
    assert await models_of(store, "acme") == before
    assert await store.catalog_version() == version
    assert await quarantine_changes(store) == []


async def test_the_share_is_configurable(store: SqlStore, upstream: str) -> None:
    """``max_quarantined=0`` restores the strict behaviour: any bad entry rejects."""
    settings = Settings(
        database_url="sqlite://",
        gateways={"acme": GatewaySettings(adapter="openrouter", base_url=upstream)},
        guard={"max_quarantined": 0.0},
    )
    gateways = {"acme": resolve_gateways(settings)["acme"]}
    await store.register_gateways(registrations(gateways))
    listing = catalog()
    listing[0] = entry(0, context_length="128k")
    serve(*listing)
    async with build_client(POLICY) as client:
        runner = SyncRunner(
            store=store,
            fetcher=Fetcher(client, POLICY),
            gateways=gateways,
            guard=GuardPolicy(max_quarantined=settings.guard.max_quarantined),
            clock=SystemClock(),
            owner="test",
        )
        summary = await runner.run("acme")
    assert summary.outcome is RunOutcome.REJECTED
    assert "1 of 40 entries are not valid, more than 0%" in (summary.error or "")
