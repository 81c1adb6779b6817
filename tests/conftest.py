"""Shared test fixtures: where the recorded responses live, and the real servers to test against."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import structlog
import uvicorn

from modelsync.observability import configure_logging

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


def plain_tracebacks() -> None:
    """structlog's defaults, but tracebacks printed plainly: the default (rich, with locals)
    spends seconds drawing one database error on a loaded machine, past a test's deadline."""
    structlog.reset_defaults()
    *processors, _ = structlog.get_config()["processors"]
    renderer = structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    structlog.configure(processors=[*processors, renderer])


@pytest.fixture(autouse=True)
def _plain_tracebacks() -> None:
    """Every test starts with :func:`plain_tracebacks` (a test may configure its own)."""
    plain_tracebacks()


@contextmanager
def serve_logging() -> Iterator[None]:
    """Log as ``serve`` does, JSON lines, for servers run in a test's threads (structlog's
    default console renderer spends seconds drawing one database error's traceback)."""
    configure_logging("INFO", json=True)
    try:
        yield
    finally:
        plain_tracebacks()


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(server: uvicorn.Server, *, send_buffer: int | None = None) -> Iterator[str]:
    """Run a uvicorn server in a thread on a free loopback port; its base URL while it runs.
    ``send_buffer`` fixes the kernel's send buffer of its connections (no autotuning), so a
    client that stops reading blocks the server's writes soon."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if send_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "the server stopped while starting"
            assert time.monotonic() < deadline, "the server did not start within 10 s"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """The gateway simulator on its built-in catalogs, in a thread, for a test module; its base
    URL (a test that mutates it resets it first: ``service_process.sim_admin``)."""
    from service_process import simulator  # noqa: PLC0415 - it imports this module

    with simulator() as base:
        yield base


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of the test's own, on each backend (a PostgreSQL one dropped after)."""
    from store.conftest import private_database  # noqa: PLC0415 - a conftest, imported late

    with private_database(request.param, tmp_path) as url:
        yield url
