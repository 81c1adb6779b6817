"""Bad input is a 422 before it reaches the database; a failing database is answered with a
request id, never with driver or SQL text (issue 6, item 17). Real servers, SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from conftest import serve_logging, serving
from modelsync.web.app import create_app
from store.conftest import admin_execute, private_database
from web.harness import service_settings

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
LEAKS = ("sqlalchemy", "asyncpg", "select", "sqlite", "traceback", "parameters", "\\u0000")
BAD_INPUT = [
    "/api/models?q=%00",
    "/api/models?q=a%00b",
    "/api/models?provider=%00",
    "/api/models?q=%01x",
    "/api/changes?model=%00",
    "/api/models/vendor%00/model",
    "/api/models/vendor/%1Bmodel",
]


@pytest.fixture(autouse=True)
def json_logs() -> Iterator[None]:
    """Log as ``serve`` does."""
    with serve_logging():
        yield


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated database of the test's own."""
    with private_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def base(database: str, tmp_path: Path) -> Iterator[str]:
    """The service on ``database``, served by uvicorn in a thread."""
    settings = service_settings(tmp_path, database_url=database, upstream="http://127.0.0.1:9")
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    with serving(server) as url:
        yield url


def no_leak(answer: httpx.Response) -> None:
    """The answer names no driver, SQL, parameter or traceback."""
    text = answer.text.lower()
    assert not [leak for leak in LEAKS if leak in text], answer.text


@pytest.mark.parametrize("path", BAD_INPUT)
def test_text_the_database_cannot_hold_is_a_422(base: str, path: str) -> None:
    """NUL and other control characters in a filter or an id: 422, nothing else happens."""
    answer = httpx.get(base + path, timeout=10)
    assert answer.status_code == 422, answer.text
    assert "control characters" in answer.text
    no_leak(answer)


def test_ordinary_filters_still_answer(base: str) -> None:
    """Unicode, percent signs and quotes are fine: 200 (no model matches them)."""
    for path in ("/api/models?q=%E2%9C%93%25'", "/api/models?provider=o'brien", "/api/changes"):
        assert httpx.get(base + path, timeout=10).status_code == 200


@pytest.mark.postgres
def test_a_database_error_is_answered_with_a_request_id_only(tmp_path: Path) -> None:
    """The database dropped under the server: 503 with an id; readiness says unreachable."""
    with private_database("postgres", tmp_path) as url:
        settings = service_settings(tmp_path, database_url=url, upstream="http://127.0.0.1:9")
        server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
        with serving(server) as base:
            name = url.rsplit("/", 1)[1]
            asyncio.run(admin_execute(f'DROP DATABASE "{name}" WITH (FORCE)'))
            for path in ("/api/models", "/api/changes", "/api/models/a/b", "/api/sync/status"):
                answer = httpx.get(base + path, timeout=10)
                assert answer.status_code == 503, answer.text
                body = answer.json()
                assert set(body) == {"detail", "request_id"}
                assert answer.headers["x-request-id"] == body["request_id"]
                no_leak(answer)
                assert name not in answer.text
            ready = httpx.get(base + "/readyz", timeout=10)
            assert ready.status_code == 503
            assert ready.json()["detail"] == "database: unreachable (see the service's log)"
