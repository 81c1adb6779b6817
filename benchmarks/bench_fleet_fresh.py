"""Three ``modelsync serve`` processes on PostgreSQL + Redis: a change committed by one, served
fresh by the other two (issue 11: p99 under 100 ms).

A database of its own on the local PostgreSQL (``MODELSYNC_BENCH_POSTGRES_URL``), a
``redis-server`` of its own on a free port, the simulator in a process of its own, and three
``modelsync serve`` processes A, B and C with the shared Redis cache; only groq is enabled, its
polls an hour apart. Each round: the simulator adds a model to groq; B and C are read (``GET
/api/models?gateway=groq``, a cached answer until invalidated) in a tight loop, a thread each,
from before A runs a manual sync (``POST /api/sync/models``) that commits the change, until each
lists the new model. The latency of a round on B (and on C) is the time from the run's commit
(its ``finished_at``, this machine's clock) to the arrival of the first fresh answer (0 when it
came first). Printed: p50, p99 and max; and the same from the moment A answered the sync (the
commit and A's invalidation of the shared cache done: what crossing processes adds).

    python benchmarks/bench_fleet_fresh.py [--rounds 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
from loadgen import BIN, free_port, process, wait_until_up
from sqlalchemy.engine import make_url

from modelsync.gateways.registry import BUILTIN

POSTGRES = os.environ.get("MODELSYNC_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1")
ADMIN = "bench-admin-token-0123456789abcdef"
POLL_S = 0.005
"""Between two reads of one process: a tight loop that leaves the machine's cores to the fleet."""


async def admin(sql: str) -> None:
    dsn = make_url(POSTGRES).set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def config_text() -> str:
    lines = []
    for spec in BUILTIN:
        lines += [f"[gateways.{spec.name}]"]
        lines += ["interval_s = 3600"] if spec.name == "groq" else ["enabled = false"]
    return "\n".join(lines) + "\n"


def count(client: httpx.Client, base: str) -> int:
    answer = client.get(base + "/api/models", params={"gateway": "groq", "limit": 5000})
    answer.raise_for_status()
    found: int = answer.json()["count"]
    return found


def finished_at(client: httpx.Client, base: str) -> float:
    answer = client.get(base + "/api/sync/status", params={"gateway": "groq"}).json()
    return datetime.fromisoformat(answer["gateways"][0]["last_run"]["finished_at"]).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    name = f"modelsync_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    database = make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-fleet-") as folder:
            run(Path(folder), database, args.rounds)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def run(work: Path, database: str, rounds: int) -> None:
    redis_port, sim_port = free_port(), free_port()
    ports = [free_port() for _ in range(3)]
    config = work / "fleet.toml"
    config.write_text(config_text())
    env = {key: value for key, value in os.environ.items() if not key.startswith("MODELSYNC_")}
    env |= {
        "MODELSYNC_DATABASE_URL": database,
        "MODELSYNC_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "MODELSYNC_UPSTREAM": f"http://127.0.0.1:{sim_port}",
        "MODELSYNC_CONFIG_FILE": str(config),
        "MODELSYNC_ADMIN_TOKEN": ADMIN,
        "MODELSYNC_LOG_LEVEL": "WARNING",
        "MODELSYNC_SIMULATOR_FIXTURES": "none",
    }
    subprocess.run([str(BIN / "modelsync"), "db", "upgrade"], env=env, check=True, cwd=work)
    redis = ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(work)]  # fmt: skip
    sim = [str(BIN / "modelsync"), "simulate", "--port", str(sim_port)]
    with process(redis, env, work), process(sim, env, work):
        serves = [[str(BIN / "modelsync"), "serve", "--port", str(port)] for port in ports]
        with (
            process(serves[0], env, work),
            process(serves[1], env, work),
            process(serves[2], env, work),
        ):
            bases = [f"http://127.0.0.1:{port}" for port in ports]
            for base in bases:
                wait_until_up(base + "/healthz", timeout_s=60)
            measure(bases, f"http://127.0.0.1:{sim_port}", rounds)


def poll_until(base: str, expected: int, stop: threading.Event, seen: dict[str, float]) -> None:
    """Read ``base`` in a tight loop (from before the commit) until it lists ``expected``
    models; the wall time its first fresh answer arrived."""
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            if count(client, base) >= expected:
                seen[base] = time.time()
                return
            time.sleep(POLL_S)


def measure(bases: list[str], simulator: str, rounds: int) -> None:
    first, *others = bases
    client = httpx.Client(timeout=30)
    headers = {"authorization": f"Bearer {ADMIN}"}
    client.post(first + "/api/sync/models", json={"gateway": "groq"}, headers=headers)
    latencies: dict[str, list[float]] = {base: [] for base in others}
    after_answer: list[float] = []
    for _ in range(rounds):
        expected = count(client, first) + 1
        for base in others:
            count(client, base)  # cached now
        client.post(simulator + "/_admin/mutate", json={"gateway": "groq", "op": "add"})
        seen: dict[str, float] = {}
        stop = threading.Event()
        pollers = [
            threading.Thread(target=poll_until, args=(base, expected, stop, seen))
            for base in others
        ]
        for poller in pollers:  # reading B and C already while A syncs: no late start
            poller.start()
        answer = client.post(first + "/api/sync/models", json={"gateway": "groq"}, headers=headers)
        answered = time.time()
        answer.raise_for_status()
        committed = finished_at(client, first)
        for poller in pollers:
            poller.join(timeout=30)
        stop.set()
        if set(seen) != set(others):
            raise SystemExit(f"{sorted(set(others) - set(seen))} not fresh within 30 s")
        for base in others:
            latencies[base].append(max(0.0, seen[base] - committed) * 1000)
            after_answer.append(max(0.0, seen[base] - answered) * 1000)
    every = [value for values in latencies.values() for value in values]
    p99 = statistics.quantiles(every, n=100)[98]
    print(
        f"commit-to-fresh on the other two processes, {rounds} rounds: p50 "
        f"{statistics.median(every):.1f} ms, p99 {p99:.1f} ms, max {max(every):.1f} ms "
        f"(target p99 < 100 ms); load average {os.getloadavg()[0]:.1f} (2 cores)"
    )
    print(
        "after A answered the sync (its commit and its own invalidation of the shared cache "
        f"done): p50 {statistics.median(after_answer):.1f} ms, p99 "
        f"{statistics.quantiles(after_answer, n=100)[98]:.1f} ms, max {max(after_answer):.1f} ms"
    )


if __name__ == "__main__":
    main()
