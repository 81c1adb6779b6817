"""The live change stream (issue 8 item 4) against a real uvicorn server and real clients:
httpx reading Server-Sent Events, and the ``websockets`` client.

The server runs ``create_app`` on a SQLite file with the simulator (in a thread) as its upstream;
changes are made by admin syncs. Each test checks the events against the log (``GET
/api/changes``): every seq once, in order, no gap.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
import websockets

from conftest import serving, shared_fixture
from modelsync.config import Settings, load_settings
from modelsync.simulator import SimulatorConfig, create_simulator_app
from modelsync.store.base import RetentionPolicy
from modelsync.store.sql import SqlStore
from modelsync.web.app import create_app
from modelsync.web.serve import server_config
from service_process import simulator

pytestmark = pytest.mark.timeout(90)
ADMIN_TOKEN = "admin-token-for-stream-tests-0123456789"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with simulator() as base:
        yield base


def settings_for(tmp_path: Path, upstream: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'stream.db'}",
        "upstream": upstream,
        "admin_token": ADMIN_TOKEN,
        "http": {"attempts": 1},
        "feed": {"heartbeat_s": 0.5, "poll_s": 0.2},
    }
    values.update(overrides)
    return load_settings(**values)


@contextmanager
def service(settings: Settings, *, send_buffer: int | None = None) -> Iterator[str]:
    app = create_app(settings, run_scheduler=False)
    server = uvicorn.Server(server_config(app, "127.0.0.1", 0, settings))
    with serving(server, send_buffer=send_buffer) as base:
        yield base


def reset(upstream: str) -> None:
    assert httpx.post(upstream + "/_admin/reset", timeout=5).status_code == 200


def sync(base: str, gateway: str) -> dict[str, Any]:
    response = httpx.post(
        base + "/api/sync/models", json={"gateway": gateway}, headers=ADMIN, timeout=60
    )
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def logged(base: str, **params: Any) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    cursor = 0
    while True:
        page = httpx.get(
            base + "/api/changes", params={"since": cursor, "limit": 1000, **params}, timeout=10
        ).json()
        changes += page["changes"]
        if not page["changes"]:
            return changes
        cursor = page["next"]


class SseReader:
    """Parses a text/event-stream response into (event, id, data) and comment lines."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.iter_lines()
        self.comments: list[str] = []

    def next_event(self) -> tuple[str, str | None, dict[str, Any]]:
        event, ident, data = "message", None, ""
        for line in self._lines:
            if line.startswith(":"):
                self.comments.append(line)
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("id:"):
                ident = line[3:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
            elif line == "" and data:
                return event, ident, orjson.loads(data)
        raise EOFError("the stream ended")

    def next_comment(self) -> str:
        for line in self._lines:
            if line.startswith(":"):
                return line
        raise EOFError("the stream ended")

    def changes(self, count: int) -> list[tuple[str | None, dict[str, Any]]]:
        found = []
        while len(found) < count:
            event, ident, data = self.next_event()
            if event == "change":
                found.append((ident, data))
        return found


def background(function: Any, *args: Any) -> Any:
    """Run ``function`` in a thread while the test reads a stream; join with ``.result()``."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    future = pool.submit(function, *args)
    pool.shutdown(wait=False)
    return future


def test_sse_live_then_resume_with_last_event_id(upstream: str, tmp_path: Path) -> None:
    reset(upstream)
    with service(settings_for(tmp_path, upstream)) as base, httpx.Client(timeout=30) as client:
        with client.stream("GET", base + "/api/changes/stream") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            reader = SseReader(response)
            done = background(sync, base, "groq")
            added = done.result()["gateways"][0]["added"]
            events = reader.changes(added)
            assert reader.next_comment() == ": heartbeat"  # idle: 0.5 s here
        log = logged(base)
        assert [int(ident or 0) for ident, _ in events] == [c["seq"] for c in log]
        assert [data["seq"] for _, data in events] == [c["seq"] for c in log]
        first = events[0][1]
        assert {"seq", "kind", "gateway", "id", "fields", "catalog_version"} <= first.keys()
        assert first["type"] == "change"
        assert first["gateway"] == "groq"

        # resume from the 3rd change while another gateway changes: replay, then live
        cursor = log[2]["seq"]
        headers = {"last-event-id": str(cursor)}
        with client.stream("GET", base + "/api/changes/stream", headers=headers) as response:
            reader = SseReader(response)
            done = background(sync, base, "cerebras")
            more = done.result()["gateways"][0]["added"]
            events = reader.changes(len(log) - 3 + more)
        log = logged(base)
        assert [data["seq"] for _, data in events] == [c["seq"] for c in log[3:]]

        # filters: only cerebras' changes, from the beginning
        params = {"since": 0, "gateway": "cerebras"}
        with client.stream("GET", base + "/api/changes/stream", params=params) as response:
            events = SseReader(response).changes(more)
        assert {data["gateway"] for _, data in events} == {"cerebras"}
        model = events[0][1]["id"]
        with client.stream(
            "GET", base + "/api/changes/stream", params={"since": 0, "model": model}
        ) as response:
            [(_, only)] = SseReader(response).changes(1)
        assert only["id"] == model

        bad = client.get(base + "/api/changes/stream", headers={"last-event-id": "x1"})
        assert bad.status_code == 400
        assert "Last-Event-ID" in bad.json()["detail"]
        unknown = client.get(base + "/api/changes/stream", params={"gateway": "nope"})
        assert unknown.status_code == 404


def test_pruned_cursor_gets_a_gone_event(upstream: str, tmp_path: Path) -> None:
    reset(upstream)
    settings = settings_for(tmp_path, upstream)
    with service(settings) as base:
        sync(base, "groq")
        log = logged(base)

        async def prune() -> None:
            store = SqlStore(settings.database_url)
            await store.open()
            try:
                policy = RetentionPolicy(
                    runs_days=30, runs_keep_per_gateway=100, changes_days=365, changes_keep=3
                )
                await store.prune(policy, now=time_now())
            finally:
                await store.close()

        asyncio.run(prune())
        kept = logged(base, limit=999)  # another query: the cached page predates the prune
        assert len(kept) == 3
        with httpx.Client(timeout=30) as client:
            params = {"since": log[0]["seq"]}
            with client.stream("GET", base + "/api/changes/stream", params=params) as response:
                reader = SseReader(response)
                event, ident, data = reader.next_event()
                assert (event, data["type"], data["oldest_seq"]) == ("gone", "gone", kept[0]["seq"])
                assert ident == str(kept[0]["seq"] - 1)
                assert f"before seq {kept[0]['seq']} are gone" in data["detail"]
                events = reader.changes(3)
        assert [data["seq"] for _, data in events] == [c["seq"] for c in kept]


def time_now() -> datetime:
    return datetime.now(UTC)


def test_websocket_replays_then_goes_live(upstream: str, tmp_path: Path) -> None:
    reset(upstream)
    with service(settings_for(tmp_path, upstream)) as base:
        sync(base, "groq")
        first = logged(base)
        url = base.replace("http://", "ws://") + "/api/changes/ws?since=" + str(first[4]["seq"])

        async def follow() -> list[dict[str, Any]]:
            got: list[dict[str, Any]] = []
            async with websockets.connect(url) as socket_:
                done = asyncio.create_task(asyncio.to_thread(sync, base, "cerebras"))
                heartbeats = 0
                while True:
                    message = orjson.loads(await asyncio.wait_for(socket_.recv(), 20))
                    if message["type"] == "heartbeat":
                        heartbeats += 1
                    else:
                        got.append(message)
                    if done.done() and heartbeats and len(got) >= len(logged(base)) - 5:
                        break
                await done
            return got

        got = asyncio.run(follow())
        log = logged(base)
        assert [m["seq"] for m in got] == [c["seq"] for c in log[5:]]
        assert {m["type"] for m in got} == {"change"}

        async def refused() -> None:
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                async with websockets.connect(url + "&gateway=nope") as socket_:
                    await socket_.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1008

        asyncio.run(refused())


@pytest.fixture(scope="module")
def recorded_upstream() -> Iterator[str]:
    """The simulator seeded from the recorded catalogs (hundreds of models a gateway)."""
    config = SimulatorConfig(fixtures_dir=shared_fixture("providers").parent)
    server = uvicorn.Server(
        uvicorn.Config(create_simulator_app(config), log_level="warning", lifespan="on")
    )
    with serving(server) as base:
        yield base


@pytest.mark.slow
@pytest.mark.shared_fixtures
def test_slow_subscriber_is_disconnected(recorded_upstream: str, tmp_path: Path) -> None:
    """A client that stops reading is cut off (bounded buffer, send timeout); a reading client
    gets every change meanwhile, and the service keeps answering."""
    upstream = recorded_upstream
    feed = {"heartbeat_s": 0.5, "poll_s": 0.2, "subscriber_buffer": 100, "send_timeout_s": 2}
    with service(settings_for(tmp_path, upstream, feed=feed), send_buffer=4096) as base:
        host, port = base.removeprefix("http://").split(":")
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        slow.connect((host, int(port)))
        slow.sendall(b"GET /api/changes/stream HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            with (
                httpx.Client(timeout=30) as client,
                client.stream("GET", base + "/api/changes/stream") as response,
            ):
                reader = SseReader(response)
                status = client.get(base + "/api/sync/status").json()
                assert status["feed"]["subscribers"] == 2
                events = []
                for gateway in ("openrouter", "together", "huggingface", "vercel-ai-gateway"):
                    events += reader.changes(sync(base, gateway)["gateways"][0]["added"])
                assert [d["seq"] for _, d in events] == [c["seq"] for c in logged(base)]
                deadline = time.monotonic() + 20
                while client.get(base + "/api/sync/status").json()["feed"]["subscribers"] > 1:
                    assert time.monotonic() < deadline, "the slow subscriber was kept"
                    time.sleep(0.1)
        finally:
            slow.close()
