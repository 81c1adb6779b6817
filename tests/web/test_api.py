"""The JSON API over HTTP: sync, status, catalog, changes, health and the OpenAPI document."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from modelsync.cli.sync import SyncReport
from modelsync.domain import ChangeSource, RunOutcome
from modelsync.simulator.faults import parse_fault
from modelsync.sync.runner import RunSummary
from web.harness import Service, eventually, open_service

GATEWAYS = 13
SHARED_MODEL = "openai/gpt-oss-120b"
"""Offered by several gateways of the simulator's built-in catalogs."""

REPORT_KEYS = set(SyncReport(0, []).to_json())
SUMMARY_KEYS = set(RunSummary(gateway="g", outcome=RunOutcome.CHANGED).to_json())
STATUS_KEYS = {
    "gateway", "status", "tier", "interval_s", "last_attempt_at", "last_success_at",
    "last_outcome", "last_error", "consecutive_failures", "next_run_at", "model_count",
    "version", "quarantined", "breaker", "running", "last_run", "last_webhook",
}  # fmt: skip


# -- POST /api/sync/models -------------------------------------------------------------------


async def test_sync_all_waits_and_reports_in_the_cli_json_shape(service: Service) -> None:
    """Every gateway runs; the answer is ``modelsync sync --json``'s shape, counts included."""
    response = await service.admin("POST", "/api/sync/models")
    assert response.status_code == 200
    report = response.json()
    assert set(report) == REPORT_KEYS
    assert len(report["gateways"]) == GATEWAYS
    assert all(set(summary) == SUMMARY_KEYS for summary in report["gateways"])
    assert {summary["outcome"] for summary in report["gateways"]} == {"changed"}
    assert report["catalog_version"] == GATEWAYS
    added = sum(summary["added"] for summary in report["gateways"])
    assert added == sum(summary["total_models"] for summary in report["gateways"])
    runs = await service.runs()
    assert {run.record.trigger for run in runs} == {ChangeSource.MANUAL}


@pytest.mark.parametrize(
    ("wanted", "name"), [("groq", "groq"), ("gemini", "google"), ("HF", "huggingface")]
)
async def test_sync_one_gateway_by_name_or_alias(service: Service, wanted: str, name: str) -> None:
    """A named gateway (or alias, any case) runs alone."""
    report = await service.sync(wanted)
    assert [summary["gateway"] for summary in report["gateways"]] == [name]
    assert [run.record.gateway for run in await service.runs()] == [name]


async def test_sync_wait_false_answers_202_and_runs_in_the_background(service: Service) -> None:
    """``?wait=false`` answers 202 at once; the run finishes afterwards."""
    service.transport.hold("groq")
    response = await service.admin(
        "POST", "/api/sync/models", params={"wait": "false"}, json={"gateway": "groq"}
    )
    assert response.status_code == 202, response.text
    assert response.json() == {
        "status": "accepted",
        "gateways": ["groq"],
        "status_url": "/api/sync/status",
    }
    assert service.services.scheduler.running() == ["groq"]
    assert await service.runs() == []
    service.transport.release("groq")
    await service.idle()
    assert [run.record.outcome for run in await service.runs("groq")] == [RunOutcome.CHANGED]


async def test_sync_while_running_coalesces_into_one_follow_up(service: Service) -> None:
    """Three manual requests during a run share one follow-up run."""
    service.transport.hold("groq")
    first = await service.admin(
        "POST", "/api/sync/models", params={"wait": "false"}, json={"gateway": "groq"}
    )
    assert first.status_code == 202
    for _ in range(3):
        again = await service.admin(
            "POST", "/api/sync/models", params={"wait": "false"}, json={"gateway": "groq"}
        )
        assert again.status_code == 202
    await eventually(lambda: service.transport.waiting["groq"] == 1)
    service.transport.release("groq")
    await service.idle()
    assert len(await service.runs("groq")) == 2
    assert service.transport.requests["groq"] == 2


async def test_sync_unknown_gateway_is_404_json(service: Service) -> None:
    """An unknown gateway is a JSON 404 that names the known ones; nothing runs."""
    response = await service.admin("POST", "/api/sync/models", json={"gateway": "nope"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert "unknown gateway 'nope'" in response.json()["detail"]
    assert "groq" in response.json()["detail"]
    assert await service.runs() == []


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"gateway": 5}', "gateway"),
        (b'{"gateway": ""}', "gateway"),
        (b'{"gateway": "groq", "full": "yes"}', "full"),
        (b'["groq"]', "body"),
        (b'{"gateway": ', "body"),
    ],
    ids=["not-a-string", "empty", "unknown-field", "a-list", "invalid-json"],
)
async def test_sync_bad_body_is_422_saying_what(service: Service, body: bytes, where: str) -> None:
    """A body of the wrong shape is a 422 whose detail points at the problem; nothing runs."""
    response = await service.admin(
        "POST", "/api/sync/models", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    locations = [error["loc"] for error in response.json()["detail"]]
    assert any(where in location for location in locations), locations
    assert await service.runs() == []


# -- GET /api/sync/status (and its alias) ------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/sync/status", "/api/sync/models"])
async def test_status_of_every_gateway(synced: Service, path: str) -> None:
    """Every gateway with its schedule, breaker, running flag and last run."""
    response = await synced.client.get(path)
    assert response.status_code == 200
    status = response.json()
    assert status["catalog_version"] == GATEWAYS
    assert status["process"]["scheduler_alive"] is True
    rows = status["gateways"]
    assert len(rows) == GATEWAYS
    assert all(set(row) == STATUS_KEYS for row in rows)
    for row in rows:
        assert (row["status"], row["breaker"], row["running"]) == ("ok", "closed", False)
        assert row["last_run"]["trigger"] == "manual"
        assert row["last_run"]["added"] == row["model_count"] > 0
        assert row["next_run_at"] is not None
        assert row["last_webhook"] is None


async def test_status_alias_answers_the_same(synced: Service) -> None:
    """``GET /api/sync/models`` is ``GET /api/sync/status``."""
    status = await synced.client.get("/api/sync/status", params={"gateway": "groq"})
    alias = await synced.client.get("/api/sync/models", params={"gateway": "groq"})
    assert status.json() == alias.json()


async def test_status_of_one_gateway_shows_it_running(service: Service) -> None:
    """``?gateway=`` narrows to one; a run in flight shows as running."""
    service.transport.hold("groq")
    await service.admin("POST", "/api/sync/models?wait=false", json={"gateway": "groq"})
    response = await service.client.get("/api/sync/status", params={"gateway": "groq"})
    (row,) = response.json()["gateways"]
    assert (row["gateway"], row["running"], row["last_run"]) == ("groq", True, None)
    assert response.json()["process"]["running"] == ["groq"]
    service.transport.release("groq")
    await service.idle()


async def test_status_shows_the_breaker_open_after_failures(service: Service) -> None:
    """Three failed runs: the gateway is failing and its breaker open until the back-off."""
    gateway = service.simulator.gateway("groq")
    gateway.faults.append(parse_fault({"kind": "http_500"}, gateway="groq"))
    for _ in range(3):
        report = await service.sync("groq")
        assert report["gateways"][0]["outcome"] == "failed"
    response = await service.client.get("/api/sync/status", params={"gateway": "groq"})
    (row,) = response.json()["gateways"]
    assert (row["status"], row["breaker"], row["consecutive_failures"]) == ("failing", "open", 3)
    assert "500" in row["last_error"]
    assert row["last_run"]["outcome"] == "failed"


async def test_status_unknown_gateway_is_404(service: Service) -> None:
    """An unknown gateway is a JSON 404."""
    response = await service.client.get("/api/sync/status", params={"gateway": "nope"})
    assert response.status_code == 404
    assert "unknown gateway" in response.json()["detail"]


# -- GET /api/models, /api/models/{id} ---------------------------------------------------------


async def models(service: Service, **params: Any) -> list[dict[str, Any]]:
    """The ``models`` of ``GET /api/models``."""
    response = await service.client.get("/api/models", params={"limit": 5000, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["models"])
    found: list[dict[str, Any]] = body["models"]
    return found


async def test_models_filters(synced: Service) -> None:
    """gateway (or alias), provider and q narrow the catalog; together they intersect."""
    every = await models(synced)
    assert len(every) == sum(run.record.total_models for run in await synced.runs())
    groq = await models(synced, gateway="groq")
    assert groq
    assert {model["gateway"] for model in groq} == {"groq"}
    assert await models(synced, gateway="gemini") == await models(synced, gateway="google")
    openai = await models(synced, provider="openai")
    assert openai
    assert {model["provider_slug"] for model in openai} == {"openai"}
    found = await models(synced, q="GPT-OSS")
    assert found
    assert all("gpt-oss" in model["id"] for model in found)
    both = await models(synced, gateway="groq", q="gpt-oss")
    assert both == [model for model in found if model["gateway"] == "groq"]
    assert await models(synced, q="no-such-model-anywhere") == []


async def test_models_paging(synced: Service) -> None:
    """limit and offset page through the same order."""
    every = await models(synced)
    assert await models(synced, limit=10, offset=5) == every[5:15]


async def test_models_unknown_gateway_is_404(synced: Service) -> None:
    """An unknown gateway filter is a 404, not an empty list."""
    response = await synced.client.get("/api/models", params={"gateway": "nope"})
    assert response.status_code == 404
    assert "unknown gateway" in response.json()["detail"]


async def test_model_offers_across_gateways(synced: Service) -> None:
    """A canonical id answers every gateway's offer of it."""
    response = await synced.client.get(f"/api/models/{SHARED_MODEL}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == SHARED_MODEL
    gateways = {offer["gateway"] for offer in body["offers"]}
    assert len(gateways) >= 3
    assert all(offer["id"] == SHARED_MODEL for offer in body["offers"])
    listed = {m["gateway"] for m in await models(synced) if m["id"] == SHARED_MODEL}
    assert gateways == listed


async def test_model_unknown_is_404_json(synced: Service) -> None:
    """An unknown model id is a JSON 404 naming it."""
    response = await synced.client.get("/api/models/nobody/nothing-7b")
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown model 'nobody/nothing-7b'"}


# -- GET /api/changes --------------------------------------------------------------------------


async def changes(service: Service, **params: Any) -> dict[str, Any]:
    """``GET /api/changes`` as JSON."""
    response = await service.client.get("/api/changes", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_changes_cursor_pages_through_everything(synced: Service) -> None:
    """Following ``next`` as ``since`` visits every change once, in seq order."""
    everything = (await changes(synced, limit=1000))["changes"]
    assert len(everything) == sum(run.record.added for run in await synced.runs())
    seen: list[dict[str, Any]] = []
    cursor = 0
    while True:
        page = await changes(synced, since=cursor, limit=37)
        if not page["changes"]:
            assert page["next"] == cursor
            break
        seen += page["changes"]
        cursor = page["next"]
    assert seen == everything
    assert [change["seq"] for change in seen] == sorted({change["seq"] for change in seen})
    assert {change["kind"] for change in seen} == {"added"}
    assert {change["source"] for change in seen} == {"manual"}


async def test_changes_filters(synced: Service) -> None:
    """gateway (or alias) and model narrow the history."""
    groq = (await changes(synced, gateway="groq", limit=1000))["changes"]
    assert groq
    assert {change["gateway"] for change in groq} == {"groq"}
    assert (await changes(synced, gateway="grok", limit=1000))["changes"] == (
        await changes(synced, gateway="xai", limit=1000)
    )["changes"]
    one = (await changes(synced, model=SHARED_MODEL, limit=1000))["changes"]
    assert len(one) >= 3
    assert {change["id"] for change in one} == {SHARED_MODEL}
    assert (await changes(synced, since=10**9))["changes"] == []


@pytest.mark.parametrize(
    "params", [{"since": "-1"}, {"since": "x"}, {"limit": "0"}, {"limit": "1001"}]
)
async def test_changes_bad_query_is_422(synced: Service, params: dict[str, str]) -> None:
    """A negative or non-integer cursor, or a limit out of range, is a 422."""
    response = await synced.client.get("/api/changes", params=params)
    assert response.status_code == 422


async def test_changes_unknown_gateway_is_404(synced: Service) -> None:
    """An unknown gateway filter is a 404."""
    response = await synced.client.get("/api/changes", params={"gateway": "nope"})
    assert response.status_code == 404


# -- health and the OpenAPI document -----------------------------------------------------------


async def test_healthz_and_readyz(service: Service) -> None:
    """Liveness answers ok; readiness reports the database and the scheduler up."""
    assert (await service.client.get("/healthz")).json() == {"status": "ok"}
    ready = await service.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": True, "scheduler": True, "detail": None}


async def test_openapi_documents_every_route(service: Service) -> None:
    """``/openapi.json`` lists each route of the API with its documented answers."""
    document = (await service.client.get("/openapi.json")).json()
    paths = document["paths"]
    expected = {
        "/api/sync/models": {"get", "post"},
        "/api/sync/status": {"get"},
        "/api/cache/invalidate": {"post"},
        "/api/models": {"get"},
        "/api/models/{model_id}": {"get"},
        "/api/changes": {"get"},
        "/api/webhooks/models-updated": {"get", "post"},
        "/healthz": {"get"},
        "/readyz": {"get"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) == methods, path
    post_sync = paths["/api/sync/models"]["post"]["responses"]
    assert {"200", "202", "401", "403", "404", "422"} <= set(post_sync)
    assert {"200", "503"} <= set(paths["/readyz"]["get"]["responses"])
    webhook = paths["/api/webhooks/models-updated"]["post"]["responses"]
    assert {"200", "202", "400", "401", "413", "422"} <= set(webhook)


async def test_changes_say_when_retention_cut_the_cursor(synced: Service) -> None:
    """A ``since`` older than the oldest change kept: ``truncated`` with ``oldest_seq``; the
    newest first with ``order=newest``; one run's and one kind's changes (issue 7: 4, 6)."""
    store = synced.services.runtime.store
    newest = await changes(synced, order="newest", limit=3)
    seqs = [change["seq"] for change in newest["changes"]]
    assert seqs == sorted(seqs, reverse=True)
    assert (newest["next"], newest["truncated"]) == (seqs[0], False)
    [run] = await synced.runs("groq")
    by_run = (await changes(synced, run=run.id, limit=1000))["changes"]
    assert by_run
    assert {change["gateway"] for change in by_run} == {"groq"}
    assert (await changes(synced, kind="removed"))["changes"] == []
    policy = replace(synced.services.runtime.retention, changes_keep=5)
    await store.prune(policy, now=synced.clock.now())
    page = await changes(synced, since=1)
    oldest = page["oldest_seq"]
    assert (page["truncated"], page["changes"][0]["seq"]) == (True, oldest)
    assert (await changes(synced, since=oldest - 1))["truncated"] is False
    assert (await changes(synced, since=10**9))["oldest_seq"] == oldest  # an empty page too


async def test_status_shows_the_reference_catalogs(tmp_path: Path) -> None:
    """With a reference price catalog enabled, the status names it, its interval, when its
    table was fetched and its last error; without, ``references`` is empty."""
    references = {"modelsdev": {"enabled": True, "interval_s": 3600}}
    async with open_service(tmp_path, run_scheduler=False, references=references) as service:
        status = (await service.client.get("/api/sync/status")).json()
        [reference] = status["references"]
        assert reference["name"] == "modelsdev"
        assert reference["interval_s"] == 3600
        assert reference["url"].endswith("api.json")
        assert set(reference) == {
            "name", "url", "interval_s", "fetched_at", "source", "last_error", "pending"
        }  # fmt: skip
    (tmp_path / "plain").mkdir()
    async with open_service(tmp_path / "plain", run_scheduler=False) as plain:
        assert (await plain.client.get("/api/sync/status")).json()["references"] == []
