"""The simulator under a real uvicorn server, fetched over loopback."""

from __future__ import annotations

import asyncio
import socket

import httpx

from modelsync.clock import ManualClock
from modelsync.simulator import SimulatorConfig, build_server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_real_server_over_loopback() -> None:
    """uvicorn serves the lists, the admin API and a streamed huge body over real TCP."""
    port = _free_port()
    server = build_server(
        "127.0.0.1", port, SimulatorConfig(use_fixtures=False, clock=ManualClock())
    )
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            groq = await client.get("/groq/openai/v1/models", headers={"Authorization": "Bearer k"})
            refused = await client.get("/groq/openai/v1/models")
            fault = {"gateway": "together", "kind": "huge_body", "mib": 1, "times": 1}
            await client.post("/_admin/fault", json=fault)
            huge = await client.get("/together/v1/models", headers={"Authorization": "Bearer k"})
            state = (await client.get("/_admin/state?gateway=groq")).json()
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
    assert groq.status_code == 200
    assert groq.json()["data"]
    assert groq.headers["etag"]
    assert refused.status_code == 401
    assert huge.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in huge.headers
    assert len(huge.content) >= 1024 * 1024
    assert state["gateways"]["groq"]["requests"] == 2
