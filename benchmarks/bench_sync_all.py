"""``sync all`` against the simulator: the time of a first and of a repeated sync of every gateway.

Issue 9 ("Measured"): identity and enrichment must not make ``sync all`` more than 20% slower.
Each repetition starts the simulator (its built-in catalogs, a frozen clock) as an ASGI app the
HTTP client talks to in process, opens a fresh SQLite file and runs every shipped gateway the
way ``modelsync sync all`` does (``SyncRunner.run_many``): the first run applies every catalog,
the second one (after a scripted change on every gateway) diffs and applies it. Printed: the
medians, and the totals of models and quarantined entries (a sanity check).

Compare two checkouts in one sitting (same machine, same load), e.g.:

    PYTHONPATH=<old checkout>/src python benchmarks/bench_sync_all.py --repeat 9
    python benchmarks/bench_sync_all.py --repeat 9
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from modelsync.clock import ManualClock, SystemClock
from modelsync.config import Settings, resolve_gateways
from modelsync.domain import ChangeSource
from modelsync.fetch import Fetcher, FetchPolicy, build_client
from modelsync.guard import GuardPolicy
from modelsync.observability import configure_logging
from modelsync.runtime import registrations
from modelsync.simulator import SimulatorConfig, create_simulator_app
from modelsync.store.sql import SqlStore
from modelsync.sync.runner import SyncRunner

UPSTREAM = "http://sim"
POLICY = FetchPolicy(connect_timeout_s=5.0, read_timeout_s=30.0, attempts=1, backoff_base_s=0.0)


async def one(folder: Path) -> tuple[float, float, int]:
    """Seconds of the first and the second ``sync all``, and the models stored."""
    app = create_simulator_app(SimulatorConfig(use_fixtures=False, clock=ManualClock()))
    transport = httpx.ASGITransport(app=app)
    gateways = resolve_gateways(Settings(upstream=UPSTREAM, database_url="sqlite+aiosqlite://"))
    names = [name for name, gateway in gateways.items() if gateway.enabled]
    store = SqlStore(f"sqlite+aiosqlite:///{folder / 'bench.db'}")
    await store.open()
    try:
        await store.register_gateways(registrations(gateways))
        async with (
            build_client(POLICY, transport=transport) as client,
            httpx.AsyncClient(transport=transport, base_url=UPSTREAM) as admin,
        ):
            runner = SyncRunner(
                store=store,
                fetcher=Fetcher(client, POLICY),
                gateways=gateways,
                guard=GuardPolicy(),
                clock=SystemClock(),
                owner="bench",
                upstream=UPSTREAM,
            )
            began = time.perf_counter()
            first = await runner.run_many(names, trigger=ChangeSource.MANUAL)
            first_s = time.perf_counter() - began
            for name in names:
                await admin.post("/_admin/mutate", json={"gateway": name, "op": "reprice"})
            began = time.perf_counter()
            await runner.run_many(names, trigger=ChangeSource.MANUAL)
            second_s = time.perf_counter() - began
        return first_s, second_s, sum(summary.total_models for summary in first)
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    configure_logging("WARNING")
    firsts: list[float] = []
    seconds: list[float] = []
    models = 0
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as folder:
            gc.collect()
            first_s, second_s, models = asyncio.run(one(Path(folder)))
        firsts.append(first_s)
        seconds.append(second_s)
    print(f"models stored by the first sync all: {models}")
    print(f"first sync all  (every catalog applied): median {statistics.median(firsts):.3f} s")
    print(f"second sync all (a reprice everywhere):  median {statistics.median(seconds):.3f} s")


if __name__ == "__main__":
    main()
