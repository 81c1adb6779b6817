"""Admin auth, cache invalidation and readiness, through ``TestClient`` (lifespan running)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette 1.x would rather run its TestClient on httpx2, which this project does not ship;
    # on httpx it works the same and only warns once, at import.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

from modelsync.clock import ManualClock
from modelsync.web.app import create_app
from web.harness import ADMIN, ADMIN_TOKEN, START, GatedTransport, service_settings, simulator_app

ADMIN_ROUTES = [
    ("POST", "/api/sync/models", {"gateway": "groq"}),
    ("POST", "/api/cache/invalidate", {"type": "rankings"}),
]
GATEWAYS = [
    "openrouter", "groq", "together", "fireworks", "google", "cerebras", "nebius", "xai",
    "huggingface", "aimo", "near", "fal", "vercel-ai-gateway",
]  # fmt: skip


def client_for(tmp_path: Path, *, run_scheduler: bool = True, **overrides: Any) -> TestClient:
    """A TestClient on a fresh app (enter it to run the lifespan)."""
    settings = service_settings(tmp_path, **overrides)
    transport = GatedTransport(simulator_app())
    app = create_app(
        settings, clock=ManualClock(START), transport=transport, run_scheduler=run_scheduler
    )
    return TestClient(app)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """A TestClient on a running app with an admin token configured."""
    with client_for(tmp_path) as opened:
        yield opened


# -- admin auth ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_admin_routes_refuse_without_a_configured_token(
    tmp_path: Path, method: str, path: str, body: dict[str, Any]
) -> None:
    """No token configured: 403 saying how to enable them, whatever is sent."""
    with client_for(tmp_path, admin_token=None) as client:
        for headers in ({}, ADMIN, {"authorization": "Bearer "}):
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 403
            assert "MODELSYNC_ADMIN_TOKEN" in response.json()["detail"]
        assert client.get("/api/sync/status").json()["gateways"][0]["last_run"] is None


WRONG = [
    {},
    {"authorization": ""},
    {"authorization": "Bearer"},
    {"authorization": "Bearer "},
    {"authorization": f"Basic {ADMIN_TOKEN}"},
    {"authorization": ADMIN_TOKEN},
    {"authorization": f"Bearer {ADMIN_TOKEN[:-1]}"},
    {"authorization": f"Bearer {ADMIN_TOKEN}x"},
    {"authorization": f"Bearer {ADMIN_TOKEN[:-1]}{chr(ord(ADMIN_TOKEN[-1]) + 1)}"},
    {"authorization": f"Bearer {ADMIN_TOKEN.upper()}"},
    {"authorization": f"Bearer {ADMIN_TOKEN} {ADMIN_TOKEN}"},
    {"authorization": "Bearer x"},
    {"authorization": "Bearer " + "x" * 10_000},
    {"x-admin-token": ADMIN_TOKEN},
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_admin_routes_refuse_a_wrong_token(
    client: TestClient, method: str, path: str, body: dict[str, Any]
) -> None:
    """Missing, truncated, extended, one-off, other-scheme tokens: all the same 401."""
    answers = set()
    for headers in WRONG:
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
        answers.add(response.text)
    assert len(answers) == 1  # nothing tells how close a guess came
    assert ADMIN_TOKEN not in answers.pop()


@pytest.mark.parametrize(("method", "path"), [route[:2] for route in ADMIN_ROUTES])
def test_admin_token_is_checked_before_the_body(tmp_path: Path, method: str, path: str) -> None:
    """Without the right token even a malformed body is refused (401/403), never parsed (422)."""
    malformed, json_type = b'{"gateway": ', {"content-type": "application/json"}
    with client_for(tmp_path) as client:
        refused = client.request(method, path, content=malformed, headers=json_type)
        assert refused.status_code == 401
        parsed = client.request(method, path, content=malformed, headers={**json_type, **ADMIN})
        assert parsed.status_code == 422
    with client_for(tmp_path, admin_token=None) as client:
        disabled = client.request(method, path, content=malformed, headers=json_type)
        assert disabled.status_code == 403


def test_admin_refuses_non_ascii_tokens(client: TestClient) -> None:
    """Bytes outside ASCII in the header are a 401, never an error."""
    headers = {"authorization": f"Bearer {ADMIN_TOKEN}é".encode("latin-1")}
    response = client.post("/api/cache/invalidate", json={"type": "all"}, headers=headers)
    assert response.status_code == 401


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_admin_routes_accept_the_token(client: TestClient, scheme: str) -> None:
    """The right token (scheme in any case) is let through."""
    headers = {"authorization": f"{scheme} {ADMIN_TOKEN}"}
    assert client.post("/api/cache/invalidate", json={"type": "all"}, headers=headers).is_success
    sync = client.post("/api/sync/models", json={"gateway": "groq"}, headers=headers)
    assert sync.status_code == 200
    assert sync.json()["gateways"][0]["outcome"] == "changed"


def test_read_routes_need_no_token(client: TestClient) -> None:
    """Status, catalog, changes, health and the webhook description are open."""
    for path in ("/api/sync/status", "/api/models", "/api/changes", "/healthz", "/readyz"):
        assert client.get(path).status_code == 200, path
    assert client.get("/api/webhooks/models-updated").status_code == 200


# -- POST /api/cache/invalidate ------------------------------------------------------------------


EVERY_GATEWAY_TAG = {f"models:gateway:{name}" for name in GATEWAYS}
EVERY_GATEWAY_PAGE = {f"/gateways/{name}" for name in GATEWAYS}
FORMS = [
    ({"type": "models"}, {"models:all"}, {"/models"}),
    (
        {"type": "models", "gateway": "groq"},
        {"models:all", "models:gateway:groq"},
        {"/models", "/gateways/groq"},
    ),
    (
        {"type": "model-detail", "model_id": "openai/gpt-4o"},
        {"model:openai/gpt-4o"},
        {"/models/openai/gpt-4o"},
    ),
    ({"type": "model-detail", "modelId": "a/b"}, {"model:a/b"}, {"/models/a/b"}),
    (
        {"type": "model-detail", "gateway": "groq", "modelId": "a/b"},
        {"model:a/b", "models:gateway:groq"},
        {"/models/a/b", "/gateways/groq"},
    ),
    ({"type": "rankings"}, {"rankings"}, {"/rankings"}),
    ({"type": "search"}, {"models:search"}, set()),
    (
        {"type": "all"},
        {"models:all", "models:search", "rankings"} | EVERY_GATEWAY_TAG,
        {"/", "/models", "/rankings", "/status", "/changes"} | EVERY_GATEWAY_PAGE,
    ),
    ({"tags": ["models:all", "custom:tag"]}, {"models:all", "custom:tag"}, set()),
    ({"paths": ["/models", "/x/y"]}, set(), {"/models", "/x/y"}),
    ({"tags": ["rankings"], "paths": ["/"]}, {"rankings"}, {"/"}),
]


@pytest.mark.parametrize(("body", "tags", "paths"), FORMS, ids=lambda value: str(value)[:40])
def test_invalidate_each_form(
    client: TestClient, body: dict[str, Any], tags: set[str], paths: set[str]
) -> None:
    """Each request form answers what it invalidated, and the tags land in the manifest."""
    response = client.post("/api/cache/invalidate", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer == {
        "invalidated": {"tags": sorted(tags), "paths": sorted(paths)},
        "at": START.isoformat(),
        "reason": "api",
        "purgers": [],
    }
    manifest = client.app.state.services.manifest  # type: ignore[attr-defined]
    assert all(manifest.invalidated_at(tag) == START for tag in tags)
    assert all(manifest.path_invalidated_at(path) == START for path in paths)
    assert manifest.is_stale(tags or {"models:all"}, START) == bool(tags)
    (record,) = manifest.recent()
    assert record.reason == "api"


BAD_FORMS = [
    {},
    {"type": "everything"},
    {"type": "model-detail"},
    {"type": "models", "model_id": "a/b"},
    {"type": "rankings", "gateway": "groq"},
    {"type": "search", "gateway": "groq"},
    {"type": "all", "model_id": "a/b"},
    {"type": "models", "tags": ["x"]},
    {"tags": ["x"], "gateway": "groq"},
    {"tags": [], "paths": []},
    {"tags": ["has space"]},
    {"tags": [""]},
    {"tags": "models:all"},
    {"paths": ["no-leading-slash"]},
    {"type": "models", "gateway": "Not A Slug"},
    {"type": "model-detail", "model_id": ""},
    {"type": "models", "extra": 1},
    {"tags": ["x"] * 10_001},
    ["models:all"],
]


@pytest.mark.parametrize("body", BAD_FORMS, ids=lambda value: str(value)[:40])
def test_invalidate_bad_combinations_are_422(client: TestClient, body: Any) -> None:
    """Every combination the contract forbids is a 422 with a reason; nothing is invalidated."""
    response = client.post("/api/cache/invalidate", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["msg"]
    assert client.app.state.services.manifest.recent() == []  # type: ignore[attr-defined]


def test_invalidate_unknown_gateway_is_404(client: TestClient) -> None:
    """A well-formed but unknown gateway is a 404; nothing is invalidated."""
    response = client.post(
        "/api/cache/invalidate", json={"type": "models", "gateway": "nope"}, headers=ADMIN
    )
    assert response.status_code == 404
    assert client.app.state.services.manifest.recent() == []  # type: ignore[attr-defined]


# -- readiness -----------------------------------------------------------------------------------


def test_readyz_is_503_when_the_scheduler_is_not_running(tmp_path: Path) -> None:
    """Without the scheduler's loop the service is alive but not ready."""
    with client_for(tmp_path, run_scheduler=False) as client:
        assert client.get("/healthz").status_code == 200
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {
            "status": "not_ready",
            "database": True,
            "scheduler": False,
            "detail": "scheduler loop is not running",
        }


def test_lifespan_starts_fast_and_syncs_nothing_inline(tmp_path: Path) -> None:
    """Entering the app runs no sync; every gateway has a next run persisted for later."""
    with client_for(tmp_path) as client:
        status = client.get("/api/sync/status").json()
        assert status["process"]["scheduler_alive"] is True
        rows = status["gateways"]
        assert len(rows) == len(GATEWAYS)
        assert all(row["last_run"] is None and row["next_run_at"] for row in rows)
        assert client.get("/readyz").status_code == 200
