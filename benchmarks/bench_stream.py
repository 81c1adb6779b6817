"""A committed change to its Server-Sent Event at a subscriber (issue 8): latency p50/p99/max.

1. **One process.** The service (``create_app`` under uvicorn, SQLite) and the simulator run in
   this process's threads; an SSE client (httpx, another thread) follows
   ``/api/changes/stream``. Each round reprices one together model in the simulator and syncs it
   through ``POST /api/sync/models``; the latency is the client's receipt of the change's event
   minus the change's ``at`` (the run's finish, taken before its transaction commits: the figure
   includes the commit).
2. **Another process commits.** ``modelsync serve`` and ``modelsync simulate`` run as processes
   of their own; each round runs ``modelsync sync together`` as a third process, on SQLite (the feed
   polls every ``MODELSYNC_FEED__POLL_S``, 0.5 s) and on PostgreSQL (LISTEN/NOTIFY). Same
   measure.

The load average is printed with the figures: the machine is shared.

    python benchmarks/bench_stream.py [--rounds 50] [--cli-rounds 20] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import queue
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import uvicorn
from loadgen import BIN, free_port, process, wait_until_up
from sqlalchemy.engine import make_url

from modelsync.config import load_settings
from modelsync.simulator import SimulatorConfig, create_simulator_app
from modelsync.web.app import create_app
from modelsync.web.serve import server_config

ADMIN = "bench-admin-token-0123456789-0123456789"
POSTGRES = os.environ.get(
    "MODELSYNC_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def threaded(app: Any, settings: Any = None) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = (
        server_config(app, "127.0.0.1", port, settings)
        if settings is not None
        else uvicorn.Config(app, log_level="warning", lifespan="on")
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class Follower:
    """An SSE client in a thread: every change event, with the wall time it arrived."""

    def __init__(self, base: str) -> None:
        self.events: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self._base = base
        self._stop = False
        self._ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        assert self._ready.wait(20), "the stream did not open"

    def _run(self) -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server stops at the end
            self._follow()

    def _follow(self) -> None:
        timeout = httpx.Timeout(10.0, read=None)
        with (
            httpx.Client(timeout=timeout) as client,
            client.stream("GET", self._base + "/api/changes/stream") as response,
        ):
            self._ready.set()
            data = ""
            for line in response.iter_lines():
                if self._stop:
                    return
                if line.startswith("data:"):
                    data += line[5:].strip()
                elif not line and data:
                    event = orjson.loads(data)
                    data = ""
                    if event.get("type") == "change":
                        self.events.put((time.time(), event))

    def latency_of_next(self, gateway: str, timeout_s: float = 30.0) -> float:
        """Seconds from the next change of ``gateway``'s ``at`` to its receipt."""
        deadline = time.monotonic() + timeout_s
        while True:
            received, event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if event["gateway"] == gateway:
                return received - datetime.fromisoformat(event["at"]).timestamp()

    def drain(self) -> None:
        while not self.events.empty():
            self.events.get_nowait()

    def close(self) -> None:
        self._stop = True


def report(title: str, latencies: list[float]) -> None:
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{title}: n={len(ms)} p50={statistics.median(ms):.1f} ms p99={p99:.1f} ms "
        f"max={ms[-1]:.1f} ms (load average {load})"
    )


def mutate(upstream: str) -> None:
    body = {"gateway": "together", "op": "reprice", "factor": 1.1}
    assert httpx.post(upstream + "/_admin/mutate", json=body, timeout=10).status_code == 200


def one_process(rounds: int) -> list[float]:
    with tempfile.TemporaryDirectory() as folder:
        sim = create_simulator_app(SimulatorConfig(use_fixtures=False))
        with threaded(sim) as upstream:
            settings = load_settings(
                database_url=f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}",
                upstream=upstream,
                admin_token=ADMIN,
                scheduler={"intervals_s": {"high": 86400, "medium": 86400, "low": 86400}},
            )
            app = create_app(settings, run_scheduler=False)
            with threaded(app, settings) as base:
                follower = Follower(base)
                headers = {"authorization": f"Bearer {ADMIN}"}
                sync = {"gateway": "together"}
                httpx.post(base + "/api/sync/models", json=sync, headers=headers, timeout=60)
                time.sleep(0.5)
                follower.drain()
                latencies = []
                for _ in range(rounds):
                    mutate(upstream)
                    done = httpx.post(
                        base + "/api/sync/models", json=sync, headers=headers, timeout=60
                    )
                    assert done.status_code == 200, done.text
                    latencies.append(follower.latency_of_next("together"))
                follower.close()
                return latencies


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELSYNC_")}
    return env | {"MODELSYNC_SIMULATOR_FIXTURES": "none"} | values


def across_processes(database: str, rounds: int, folder: Path) -> list[float]:
    sim_port, port = free_port(), free_port()
    upstream, base = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{port}"
    env = clean_env(
        MODELSYNC_DATABASE_URL=database,
        MODELSYNC_UPSTREAM=upstream,
        MODELSYNC_SCHEDULER__INTERVALS_S='{"high": 86400, "medium": 86400, "low": 86400}',
    )
    with (
        process([str(BIN / "modelsync"), "simulate", "--port", str(sim_port)], env, folder),
        process([str(BIN / "modelsync"), "serve", "--port", str(port)], env, folder),
    ):
        wait_until_up(upstream + "/")
        wait_until_up(base + "/healthz")
        sync = [str(BIN / "modelsync"), "sync", "together", "--json"]
        subprocess.run(sync, env=env, cwd=folder, capture_output=True, check=True, timeout=120)
        time.sleep(3.0)  # the server's own first syncs
        follower = Follower(base)
        latencies = []
        for _ in range(rounds):
            follower.drain()
            mutate(upstream)
            subprocess.run(sync, env=env, cwd=folder, capture_output=True, check=True, timeout=120)
            latencies.append(follower.latency_of_next("together"))
        follower.close()
        return latencies


async def _admin(statement: str) -> None:
    url = make_url(POSTGRES).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"modelsync_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
        env = clean_env(MODELSYNC_DATABASE_URL=url)
        upgrade = [str(BIN / "modelsync"), "db", "upgrade"]
        subprocess.run(upgrade, env=env, capture_output=True, check=True, timeout=120)
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--cli-rounds", type=int, default=20)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    report("one process, API sync commit -> SSE event", one_process(args.rounds))
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        latencies = across_processes(database, args.cli_rounds, Path(folder))
        report("SQLite, CLI sync commit -> SSE event in a server", latencies)
    if not args.skip_postgres:
        with tempfile.TemporaryDirectory() as folder, postgres_database() as database:
            latencies = across_processes(database, args.cli_rounds, Path(folder))
            report("PostgreSQL, CLI sync commit -> SSE event in a server", latencies)


if __name__ == "__main__":
    main()
