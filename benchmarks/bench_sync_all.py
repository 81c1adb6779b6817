"""``sync all`` against the simulator: the time of a first and of a repeated sync of every gateway.

Issue 9 ("Measured"): identity and enrichment must not make ``sync all`` more than 20% slower.
Each repetition starts the simulator (its built-in catalogs, a frozen clock) as an ASGI app the
HTTP client talks to in process, opens a fresh SQLite file and runs every shipped gateway the
way ``modelsync sync all`` does (``SyncRunner.run_many``): the first run applies every catalog,
the second one (after a scripted change on every gateway) diffs and applies it. Printed: the
medians, and the totals of models and quarantined entries (a sanity check).

``--references`` configures models.dev and LiteLLM as price sources (the simulator plays them):
their tables are fetched before the timed syncs, which then enrich every offer without a price
and read the tables' stamps once per run; ``--compare`` times both in one sitting, alternating.

Compare two checkouts in one sitting (same machine, same load), e.g.:

    PYTHONPATH=<old checkout>/src python benchmarks/bench_sync_all.py --repeat 9
    python benchmarks/bench_sync_all.py --repeat 9 --compare
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

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
CPU: dict[str, list[float]] = {"first": [], "second": []}
"""This process's CPU seconds per timed sync (simulator included): steadier than wall time on a
loaded machine (single-mode runs only)."""
LITELLM_URL = (
    "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json"
)
POLICY = FetchPolicy(connect_timeout_s=5.0, read_timeout_s=30.0, attempts=1, backoff_base_s=0.0)


async def with_references(runner: SyncRunner, store: SqlStore, gateways: Any) -> None:
    """Configure both reference catalogs on ``runner`` and fetch them (not timed)."""
    from modelsync.reference.service import (  # noqa: PLC0415 - absent from older checkouts
        ReferencePrices,
        ReferenceSource,
    )

    prices = ReferencePrices(
        store=store,
        fetcher=runner.fetcher,
        sources=[
            ReferenceSource("litellm", "litellm", LITELLM_URL, 3600),
            ReferenceSource("modelsdev", "modelsdev", "https://models.dev/api.json", 3600),
        ],
        gateways=gateways,
        clock=SystemClock(),
        upstream=UPSTREAM,
    )
    for name in ("litellm", "modelsdev"):
        await prices.refresh(name)
    runner.references = prices


async def one(folder: Path, *, references: bool = False) -> tuple[float, float, int]:
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
            if references:
                await with_references(runner, store, gateways)
            began, cpu = time.perf_counter(), time.process_time()
            first = await runner.run_many(names, trigger=ChangeSource.MANUAL)
            first_s = time.perf_counter() - began
            CPU["first"].append(time.process_time() - cpu)
            for name in names:
                await admin.post("/_admin/mutate", json={"gateway": name, "op": "reprice"})
            began, cpu = time.perf_counter(), time.process_time()
            await runner.run_many(names, trigger=ChangeSource.MANUAL)
            second_s = time.perf_counter() - began
            CPU["second"].append(time.process_time() - cpu)
        return first_s, second_s, sum(summary.total_models for summary in first)
    finally:
        await store.close()


def measure(repeat: int, modes: list[bool]) -> dict[bool, tuple[list[float], list[float], int]]:
    """Per mode (references or not): first and second sync times, and the models stored."""
    results: dict[bool, tuple[list[float], list[float], int]] = {m: ([], [], 0) for m in modes}
    for _ in range(repeat):
        for mode in modes:  # alternating, so load drifts hit both alike
            with tempfile.TemporaryDirectory() as folder:
                gc.collect()
                first_s, second_s, models = asyncio.run(one(Path(folder), references=mode))
            firsts, seconds, _ = results[mode]
            firsts.append(first_s)
            seconds.append(second_s)
            results[mode] = (firsts, seconds, models)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--references", action="store_true")
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args()
    configure_logging("WARNING")
    modes = [False, True] if args.compare else [args.references]
    results = measure(args.repeat, modes)
    for mode, (firsts, seconds, models) in results.items():
        label = "with reference catalogs" if mode else "without reference catalogs"
        print(f"{label}: models stored by the first sync all: {models}")
        print(
            f"  first sync all  (every catalog applied): median {statistics.median(firsts):.3f} s"
        )
        print(
            f"  second sync all (a reprice everywhere):  median {statistics.median(seconds):.3f} s"
        )
    if not args.compare:
        first_cpu, second_cpu = statistics.median(CPU["first"]), statistics.median(CPU["second"])
        print(f"  CPU seconds: first median {first_cpu:.3f}, second median {second_cpu:.3f}")
    if args.compare:
        (f0, s0, _), (f1, s1, _) = results[False], results[True]
        first = statistics.median(f1) / statistics.median(f0)
        second = statistics.median(s1) / statistics.median(s0)
        print(f"ratio with/without: first {first:.2f}x, second {second:.2f}x")


if __name__ == "__main__":
    main()
