"""Shared test fixtures: where the recorded responses live, and the real servers to test against."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_FIXTURES = Path(
    os.environ.get(
        "MODELSYNC_SHARED_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures"
    )
)
"""The recorded gateway responses and catalogs, read in place (never copied into the project)."""

PROJECT_FIXTURES = Path(__file__).resolve().parent / "fixtures"
"""Small fixtures written for this project (gateways without a real capture)."""

POSTGRES_URL = os.environ.get(
    "MODELSYNC_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("MODELSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE_SERVICES = os.environ.get("MODELSYNC_REQUIRE_SERVICES") == "1"
"""Set by CI: a PostgreSQL or Redis test that cannot reach its server fails instead of skipping."""


def shared_fixture(relative: str) -> Path:
    """The path of a recorded response; skips the test with the reason when it is absent."""
    path = SHARED_FIXTURES / relative
    if not path.exists():
        pytest.skip(
            f"recorded fixture {relative} not found under {SHARED_FIXTURES} "
            "(set MODELSYNC_SHARED_FIXTURES to the shared/fixtures folder)"
        )
    return path


def service_unavailable(what: str, error: BaseException) -> None:
    """Skip (locally) or fail (CI, MODELSYNC_REQUIRE_SERVICES=1) when a real server is down."""
    message = f"{what} unreachable: {error!r}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (MODELSYNC_REQUIRE_SERVICES=1: required in CI)")
    pytest.skip(message)
