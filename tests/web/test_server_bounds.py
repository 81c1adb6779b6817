"""What one client can hold of a real ``modelsync serve``: header time, connections, bodies,
redirects; and an empty admin token, which is "not configured" (issue 6, items 16 and 18).

One ``modelsync serve`` process with an empty ``MODELSYNC_ADMIN_TOKEN``, a 2 s header deadline
and a cap of 1,000 connections serves the module; its file descriptors are counted in /proc.
Bodies are checked on an in-thread server as ``serve`` configures it, with a token (imported
in the fixture, so that the module also runs against an older ``modelsync`` to show the holes).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from conftest import free_port, serving
from modelsync.config import load_settings
from modelsync.web.app import create_app
from service_process import ServeProcess, clean_environment, serve_process, wait_for
from web.harness import ADMIN, service_settings

pytestmark = pytest.mark.slow

HEADER_TIMEOUT_S = 2
MAX_CONNECTIONS = 1000
CLIENTS = 1500


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """``modelsync serve`` with an empty admin token and tight server bounds."""
    folder = tmp_path_factory.mktemp("bounds")
    env = clean_environment(
        MODELSYNC_DATABASE_URL=f"sqlite+aiosqlite:///{folder / 'service.db'}",
        MODELSYNC_UPSTREAM=f"http://127.0.0.1:{free_port()}",  # no gateway is ever reached
        MODELSYNC_ADMIN_TOKEN="",
        MODELSYNC_SERVER__HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S),
        MODELSYNC_SERVER__MAX_CONNECTIONS=str(MAX_CONNECTIONS),
        MODELSYNC_LOG_LEVEL="INFO",
    )
    with serve_process(folder, env) as process:
        yield process


def descriptors(pid: int) -> int:
    """How many file descriptors the process holds."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_an_empty_admin_token_is_not_configured(served: ServeProcess) -> None:
    """``Authorization: Bearer`` (an empty token) opens nothing: 403, and serve said so."""
    for header in ("Bearer", "bearer", "Bearer x"):
        answer = httpx.post(
            served.base + "/api/sync/models",
            json={"gateway": "groq"},
            headers={"authorization": header},
            timeout=10,
        )
        assert answer.status_code == 403, answer.text
        assert "MODELSYNC_ADMIN_TOKEN" in answer.json()["detail"]
    assert "admin_routes_disabled" in served.log()
    assert "MODELSYNC_ADMIN_TOKEN is not set (or blank)" in served.log()


@pytest.mark.parametrize("token", ["", "   ", "\t"])
def test_a_blank_admin_token_reads_as_unset(token: str) -> None:
    """Blank is the same as unset, wherever the settings come from."""
    assert load_settings(admin_token=token).admin_token is None
    assert load_settings(admin_token=" x ").admin_token is not None


def test_the_trailing_slash_redirect_never_names_the_clients_host(served: ServeProcess) -> None:
    """``Location`` is a path: a forged ``Host`` header is not reflected."""
    answer = httpx.get(
        served.base + "/api/sync/status/?gateway=groq",
        headers={"host": "evil.example"},
        follow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 307
    assert answer.headers["location"] == "/api/sync/status?gateway=groq"


def test_clients_trickling_headers_are_cut_off_and_connections_capped(
    served: ServeProcess,
) -> None:
    """1,500 partial requests: at most 1,000 connections held, all closed by the deadline."""
    pid = served.process.pid
    before = descriptors(pid)
    clients: list[socket.socket] = []
    try:
        for _ in range(CLIENTS):
            client = socket.create_connection(("127.0.0.1", int(served.base.rsplit(":", 1)[1])))
            with contextlib.suppress(OSError):  # closed at once: over the connection cap
                client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            clients.append(client)
        peak = descriptors(pid)
        assert peak <= before + MAX_CONNECTIONS + 20, (before, peak)
        started = time.monotonic()
        wait_for(
            lambda: descriptors(pid) <= before + 5,
            timeout_s=HEADER_TIMEOUT_S + 20,
            what="the trickling clients' connections closed",
        )
        assert time.monotonic() - started < HEADER_TIMEOUT_S + 20
        for client in clients[:50]:
            client.settimeout(5)
            with contextlib.suppress(ConnectionResetError):
                assert client.recv(1024) == b""  # closed by the server
    finally:
        for client in clients:
            client.close()
    assert httpx.get(served.base + "/healthz", timeout=10).status_code == 200


@pytest.fixture
def bounded(tmp_path: Path) -> Iterator[str]:
    """The service as ``serve`` configures it (with an admin token), in a thread."""
    from modelsync.web.serve import server_config  # noqa: PLC0415 - see the module docstring

    settings = service_settings(tmp_path, server={"max_body_bytes": 4096})
    server = uvicorn.Server(server_config(create_app(settings), "127.0.0.1", 0, settings))
    with serving(server) as base:
        yield base


def test_an_admin_route_refuses_a_body_over_the_limit(bounded: str) -> None:
    """With a valid token: a declared 1 MB body is refused unread, a streamed one once past it."""
    big = b'{"gateway": "' + b"x" * 1_000_000 + b'"}'
    declared = httpx.post(bounded + "/api/sync/models", content=big, headers=ADMIN, timeout=10)
    assert declared.status_code == 413, declared.text
    assert "4096 bytes" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 1024):
            yield big[start : start + 1024]

    streamed = httpx.post(
        bounded + "/api/cache/invalidate", content=chunks(), headers=ADMIN, timeout=10
    )
    assert streamed.status_code == 413, streamed.text
    small = httpx.post(
        bounded + "/api/cache/invalidate", json={"type": "rankings"}, headers=ADMIN, timeout=10
    )
    assert small.status_code == 200, small.text
