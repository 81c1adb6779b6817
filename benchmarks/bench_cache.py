"""The tagged response cache (issue 8): cached reads against a bare route, and how soon a change
is served fresh.

1. **Reads.** The models.dev catalog as one gateway (the database ``bench_reads.py`` loads), one
   uvicorn worker each: modelsync with its cache on (every request after the first a hit) and
   off, against a bare Starlette route serving the same bytes from memory, ``wrk -t1`` in turn,
   same path. Printed: requests/s, p99 and the ratio modelsync/bare of this run.
2. **Invalidation to fresh read, one process.** The app in this process on the simulator, four
   readers polling one model's answer while a sync reprices it ``--samples`` times: from the
   commit (the runner's first listener) to the first answer showing the new catalog version;
   with the in-process cache and with Redis (``--redis``).
3. **CLI commit to fresh read on a running server.** ``modelsync serve`` (uvicorn) and the
   simulator as processes; ``modelsync sync openrouter`` run ``--cli-samples`` times in other
   processes after a reprice; a poller reads the model every 2 ms: from the change's recorded
   time (``at``, taken before the run's write transaction, so this includes the CLI's own
   commit) to the first answer showing it. SQLite and PostgreSQL; on PostgreSQL also from the
   commit itself (the run's ``NOTIFY`` as a listening connection of this benchmark receives it).

    python benchmarks/bench_cache.py [--seconds 8] [--connections 32] [--rounds 1]
        [--databases sqlite postgres] [--samples 200] [--cli-samples 15] [--parts 1 2 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
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
from loadgen import (
    BIN,
    CATALOG,
    OFFERS,
    Read,
    config_text,
    database,
    free_port,
    load,
    measure,
    pick_model,
    process,
    report,
    serving,
    wait_until_up,
)
from sqlalchemy.engine import make_url

from modelsync.cache.redis import RedisResponseCache
from modelsync.config import load_settings
from modelsync.domain import ChangeSource
from modelsync.observability import configure_logging
from modelsync.simulator import SimulatorConfig, create_simulator_app
from modelsync.simulator.mutations import mutate
from modelsync.store.statements import CHANGES_CHANNEL
from modelsync.sync.runner import AppliedRun
from modelsync.web.app import create_app

REDIS = os.environ.get("MODELSYNC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
TOKEN = "bench-admin-token-0123456789"
TARGETS = {"one_process_p99_ms": 20.0, "cli_sqlite_p99_ms": 1500.0, "cli_postgres_p99_ms": 100.0}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(label: str, values_ms: list[float], target_ms: float | None = None) -> None:
    if not values_ms:
        print(f"  {label:<44} no sample")
        return
    p99 = percentile(values_ms, 0.99)
    verdict = "" if target_ms is None else (" ok" if p99 < target_ms else " ABOVE")
    goal = "" if target_ms is None else f" (target < {target_ms:.0f} ms){verdict}"
    print(
        f"  {label:<44} n={len(values_ms):<4} p50 {statistics.median(values_ms):7.2f} ms  "
        f"p99 {p99:7.2f} ms  max {max(values_ms):7.2f} ms{goal}"
    )


# -- 1. reads ----------------------------------------------------------------------------------


def bench_reads(kind: str, catalog: bytes, work: Path, args: argparse.Namespace) -> None:
    config = work / f"{kind}-cache.toml"
    config.write_text(config_text(0))
    with database(kind, work, "cache") as url:
        asyncio.run(load(url, config, catalog))
        model_id = asyncio.run(pick_model(url, config))
        detail = f"/api/models/{model_id}"
        cached = [
            Read(f"cached /api/models/{{id}} ({OFFERS} offers)", detail, 0.50),
            Read("cached /api/models?limit=100", "/api/models?limit=100", 0.50),
            Read("cached /api/changes?limit=100", "/api/changes?limit=100", 0.50),
            Read("cached /api/sync/status", "/api/sync/status", 0.50),
        ]
        with serving(url, config, work, cache=True) as app:
            hits = measure(cached, app, work, args)
        with serving(url, config, work, cache=False) as app:
            bare_path = measure([Read("uncached /api/models/{id}", detail, 0.25)], app, work, args)
    report(f"{kind}: reads against the bare route", [*hits, *bare_path])


# -- 2. invalidation to fresh read in one process ------------------------------------------------


async def one_process(url: str, samples: int, redis_prefix: str | None) -> list[float]:
    """Milliseconds from each commit to the first answer showing it, readers polling."""
    simulator = create_simulator_app(SimulatorConfig(use_fixtures=False))
    state = simulator.state.simulator
    values: dict[str, Any] = {
        "database_url": url,
        "upstream": "http://sim",
        "admin_token": TOKEN,
        "http": {"attempts": 1},
    }
    if redis_prefix is not None:
        values |= {"redis_url": REDIS, "cache": {"redis_prefix": redis_prefix}}
    app = create_app(
        load_settings(**values), transport=httpx.ASGITransport(app=simulator), run_scheduler=False
    )
    async with app.router.lifespan_context(app):
        services = app.state.services
        runner = services.runtime.runner
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")
        try:
            await runner.run("openrouter", trigger=ChangeSource.MANUAL)
            raw = mutate(state, {"gateway": "openrouter", "op": "reprice", "factor": 2})["model_id"]
            await runner.run("openrouter", trigger=ChangeSource.MANUAL)
            listing = (await client.get("/api/models", params={"gateway": "openrouter"})).json()
            target = next(m["id"] for m in listing["models"] if m["gateway_model_id"] == raw)
            committed: dict[int, float] = {}
            seen: dict[int, float] = {}

            async def stamp(applied: AppliedRun) -> None:
                committed[applied.result.catalog_version] = time.perf_counter()

            runner._listeners.insert(0, stamp)  # first: at the commit, before the invalidation
            stop, news = asyncio.Event(), asyncio.Event()

            async def reader() -> None:
                while not stop.is_set():
                    answer = await client.get(f"/api/models/{target}")
                    version = int(answer.json()["catalog_version"])
                    if version not in seen:
                        seen[version] = time.perf_counter()
                        news.set()
                    await asyncio.sleep(0)  # a hit never waits on I/O here: let the sync run

            readers = [asyncio.create_task(reader()) for _ in range(4)]
            latencies = []
            for sample in range(samples):
                factor = 0.5 if sample % 2 == 0 else 2  # down and up: prices stay in bounds
                body = {"gateway": "openrouter", "op": "reprice", "factor": factor, "model_id": raw}
                mutate(state, body)
                done = await runner.run("openrouter", trigger=ChangeSource.MANUAL)
                assert done.updated == 1, done
                version = done.catalog_version
                assert version is not None
                async with asyncio.timeout(10):
                    while version not in seen:
                        news.clear()
                        await news.wait()
                latencies.append((seen[version] - committed[version]) * 1000)
            stop.set()
            await asyncio.gather(*readers)
            return latencies
        finally:
            await client.aclose()
            backend = services.cache.backend
            if isinstance(backend, RedisResponseCache):
                await backend.drop_all()


def bench_one_process(kind: str, work: Path, args: argparse.Namespace) -> None:
    print(f"\n{kind}: invalidation to fresh read, one process (4 readers polling, sync repricing)")
    backends: list[str | None] = [None, *(["redis"] if args.redis else [])]
    for backend in backends:
        with database(kind, work, f"one-{backend or 'memory'}") as url:
            prefix = f"bench:cache:{uuid.uuid4().hex}" if backend else None
            latencies = asyncio.run(one_process(url, args.samples, prefix))
        label = f"commit -> fresh read ({backend or 'memory'} cache)"
        summary(label, latencies, TARGETS["one_process_p99_ms"])


# -- 3. CLI commit to fresh read on a running server --------------------------------------------


@contextmanager
def simulator_process(work: Path) -> Iterator[str]:
    port = free_port()
    args = [str(BIN / "modelsync"), "simulate", "--port", str(port)]
    env = {**os.environ, "MODELSYNC_SIMULATOR_FIXTURES": "none"}
    with process(args, env, work):
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/_admin/state")
        yield base


@contextmanager
def serve_process(url: str, upstream: str, work: Path) -> Iterator[str]:
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("MODELSYNC")}
    env |= {
        "MODELSYNC_DATABASE_URL": url,
        "MODELSYNC_UPSTREAM": upstream,
        "MODELSYNC_ADMIN_TOKEN": TOKEN,
        "MODELSYNC_LOG_LEVEL": "WARNING",
        # the scheduler stays out of the way: the CLI makes every change
        "MODELSYNC_SCHEDULER__INTERVALS_S": '{"high": 86400, "medium": 86400, "low": 86400}',
    }
    args = [str(BIN / "modelsync"), "serve", "--port", str(port)]
    with process(args, env, work):
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/healthz")
        yield base


def cli_sync(url: str, upstream: str, work: Path) -> dict[str, Any]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("MODELSYNC")}
    env |= {"MODELSYNC_DATABASE_URL": url, "MODELSYNC_UPSTREAM": upstream}
    done = subprocess.run(
        [str(BIN / "modelsync"), "sync", "openrouter", "--json"],
        env=env, cwd=work, capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    answer: dict[str, Any] = orjson.loads(done.stdout)
    return answer


def listen(url: str, notified: list[float], stop: threading.Event) -> None:
    """Record when each change-log notification arrives (a commit, seen from outside)."""

    async def run() -> None:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        connection = await asyncpg.connect(dsn, timeout=10)
        try:
            await connection.add_listener(CHANGES_CHANNEL, lambda *_: notified.append(time.time()))
            await asyncio.to_thread(stop.wait)  # notifications arrive on this loop meanwhile
        finally:
            await connection.close()

    asyncio.run(run())


def bench_cli(kind: str, work: Path, args: argparse.Namespace) -> None:
    print(f"\n{kind}: a change committed by `modelsync sync` (another process) to a fresh read")
    with (
        database(kind, work, "cli") as url,
        simulator_process(work) as upstream,
        serve_process(url, upstream, work) as base,
    ):
        cli_sync(url, upstream, work)
        mutated = httpx.post(
            f"{upstream}/_admin/mutate",
            json={"gateway": "openrouter", "op": "reprice", "factor": 2},
        ).json()
        raw = mutated["model_id"]
        cli_sync(url, upstream, work)
        listing = httpx.get(f"{base}/api/models", params={"gateway": "openrouter"}).json()
        target = next(m["id"] for m in listing["models"] if m["gateway_model_id"] == raw)
        seen: dict[int, float] = {}
        stop = threading.Event()

        def poll() -> None:
            with httpx.Client(base_url=base, timeout=10) as client:
                while not stop.is_set():
                    version = int(client.get(f"/api/models/{target}").json()["catalog_version"])
                    seen.setdefault(version, time.time())
                    time.sleep(0.002)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        notified: list[float] = []
        listener = None
        if kind == "postgres":
            listener = threading.Thread(target=listen, args=(url, notified, stop), daemon=True)
            listener.start()
        latencies, from_commit, missed = [], [], 0
        for sample in range(args.cli_samples):
            factor = 0.5 if sample % 2 == 0 else 2  # down and up: prices stay in bounds
            body = {"gateway": "openrouter", "op": "reprice", "factor": factor, "model_id": raw}
            httpx.post(f"{upstream}/_admin/mutate", json=body)
            before = len(notified)
            version = int(cli_sync(url, upstream, work)["catalog_version"])
            deadline = time.monotonic() + 10
            while version not in seen and time.monotonic() < deadline:
                time.sleep(0.005)
            if version not in seen:
                missed += 1
                continue
            changes = httpx.get(
                f"{base}/api/changes", params={"model": target, "limit": 1000}
            ).json()["changes"]
            at = max(
                datetime.fromisoformat(change["at"]).timestamp()
                for change in changes
                if change["catalog_version"] == version
            )
            latencies.append((seen[version] - at) * 1000)
            commits = [moment for moment in notified[before:] if moment <= seen[version]]
            if commits:  # the run's last notification is its commit's
                from_commit.append((seen[version] - max(commits)) * 1000)
        stop.set()
        poller.join(timeout=10)
        if listener is not None:
            listener.join(timeout=10)
    target_ms = TARGETS[f"cli_{kind}_p99_ms"]
    summary(f"CLI `at` -> fresh read on the server ({kind})", latencies, target_ms)
    if kind == "postgres":
        summary("CLI commit (NOTIFY seen) -> fresh read", from_commit, target_ms)
    if missed:
        print(f"  {missed} change(s) never served within 10 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--cli-samples", type=int, default=15)
    parser.add_argument("--redis", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--parts", nargs="+", type=int, default=[1, 2, 3], choices=[1, 2, 3])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgres"],
                        choices=["sqlite", "postgres"])  # fmt: skip
    parser.add_argument(
        "--fixtures", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "fixtures"
    )
    args = parser.parse_args()
    if 1 in args.parts and shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")
    catalog_path = args.fixtures / CATALOG
    if 1 in args.parts and not catalog_path.is_file():
        sys.exit(f"{CATALOG} not found under {args.fixtures} (pass --fixtures)")
    configure_logging("WARNING")
    print(f"load average {os.getloadavg()[0]:.1f}; wrk -t1 -c{args.connections} "
          f"-d{args.seconds}s, {args.rounds} round(s), one uvicorn worker each")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for kind in args.databases:
            if 1 in args.parts:
                bench_reads(kind, catalog_path.read_bytes(), work, args)
            if 2 in args.parts:
                bench_one_process(kind, work, args)
            if 3 in args.parts:
                bench_cli(kind, work, args)


if __name__ == "__main__":
    main()
