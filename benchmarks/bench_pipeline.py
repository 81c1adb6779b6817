"""The sync pipeline against ``orjson.loads``, on the real LiteLLM and models.dev catalog pairs.

Each pair is served as one gateway. A run starts from a baseline (the older catalog, applied
untimed), then the timed part goes from the newer catalog's response bytes in hand to the change
stored: hash, decode, entries, guard, normalize, diff, plan and the SQLite transaction. The lease
is taken before the bytes arrive, as the scheduler does, and is not timed. Every repetition uses
a fresh database. Printed: medians, and the ratios measured in this run.

* ``changed``: the newer catalog, in the steady state of a running service (this process applied
  the baseline, so it diffs against memory and re-normalizes only entries whose bytes changed).
* ``identical``: the same bytes again (the body hash short-circuits), once the models missing
  from the newer catalog have had their second miss (a run that leaves models missing keeps no
  body hash, so that the next answer is diffed and counts the miss).
* ``cold``: the newer catalog in a fresh process (previous catalog loaded from the database,
  every entry normalized): reported for information, not a target.

    python benchmarks/bench_pipeline.py [--repeat 7] [--fixtures ../shared/fixtures]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson
import uvloop

from modelsync.clock import SystemClock
from modelsync.config import ResolvedGateway
from modelsync.domain import ChangeSource, RunOutcome, Tier
from modelsync.fetch import FetchResponse, Validators
from modelsync.gateways.base import GatewayConfig, GatewaySpec
from modelsync.guard import GuardPolicy
from modelsync.observability import configure_logging
from modelsync.store import create_store
from modelsync.store.base import GatewayRegistration, Store
from modelsync.sync.runner import RunSummary, SyncRunner

PAIRS = {
    "litellm": (
        "litellm",
        "catalogs/litellm_model_prices_and_context_window_2026-07-22_via_RoCry-llm-api-price.json",
        "catalogs/litellm_model_prices_and_context_window_2026-07-24_via_RoCry-llm-api-price.json",
    ),
    "models.dev": (
        "modelsdev",
        "catalogs/models.dev_api.json_2026-06-12_via_symfony-models-dev.json",
        "catalogs/models.dev_api.json_2026-06-13_via_symfony-models-dev.json",
    ),
}


class BytesInHand:
    """A fetcher whose response has already arrived: the timed part starts at the bytes."""

    def __init__(self) -> None:
        self.body = b""

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        validators: Validators | None = None,
        budget_s: float | None = None,
        foreign_origins: Collection[str] = (),
    ) -> FetchResponse:
        return FetchResponse(
            url=url,
            status=200,
            body=self.body,
            headers={"content-type": "application/json"},
            not_modified=False,
            attempts=1,
            elapsed_s=0.0,
        )


@dataclass
class Bench:
    store: Store
    fetcher: BytesInHand
    gateways: dict[str, ResolvedGateway]
    name: str

    def runner(self) -> SyncRunner:
        return SyncRunner(
            store=self.store,
            fetcher=self.fetcher,
            gateways=self.gateways,
            guard=GuardPolicy(),
            clock=SystemClock(),
            owner="bench",
        )

    async def timed(self, runner: SyncRunner, body: bytes) -> tuple[float, RunSummary]:
        self.fetcher.body = body
        grant = await self.store.acquire_lease(self.name, "bench", ttl_s=60)
        assert grant is not None
        gc.collect()
        start = time.perf_counter()
        summary = await runner.run(self.name, trigger=ChangeSource.POLL, grant=grant)
        elapsed = time.perf_counter() - start
        assert summary.ok, summary
        return elapsed, summary


async def open_bench(folder: Path, name: str, adapter: str) -> Bench:
    store = create_store(f"sqlite+aiosqlite:///{folder / 'bench.db'}")
    await store.open()
    spec = GatewaySpec(
        name=name,
        adapter=adapter,
        tier=Tier.LOW,
        base_url="https://catalog.invalid/models.json",
        key_env=None,
        key_required=False,
    )
    gateway = ResolvedGateway(
        spec=spec,
        interval_s=3600,
        config=GatewayConfig(name=name, base_url=spec.base_url),
        disabled_reason=None,
    )
    await store.register_gateways(
        [GatewayRegistration(name=name, tier="low", interval_s=3600, enabled=True)]
    )
    return Bench(store, BytesInHand(), {name: gateway}, name)


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


async def measure(label: str, adapter: str, old: bytes, new: bytes, repeat: int) -> None:
    loads: list[float] = []
    changed: list[float] = []
    identical: list[float] = []
    cold: list[float] = []
    summary: RunSummary | None = None
    for _ in range(repeat):
        for _ in range(3):
            gc.collect()
            start = time.perf_counter()
            orjson.loads(new)
            loads.append(time.perf_counter() - start)
        with tempfile.TemporaryDirectory() as folder:
            bench = await open_bench(Path(folder), label, adapter)
            try:
                runner = bench.runner()
                await bench.timed(runner, old)
                elapsed, summary = await bench.timed(runner, new)
                changed.append(elapsed)
                # models missing once are diffed again until their second miss removes them
                _, settle = await bench.timed(runner, new)
                if settle.missing or settle.removed:
                    await bench.timed(runner, new)
                elapsed, again = await bench.timed(runner, new)
                assert again.outcome is RunOutcome.UNCHANGED, again
                identical.append(elapsed)
            finally:
                await bench.store.close()
        with tempfile.TemporaryDirectory() as folder:
            bench = await open_bench(Path(folder), label, adapter)
            try:
                await bench.timed(bench.runner(), old)
                elapsed, _ = await bench.timed(bench.runner(), new)
                cold.append(elapsed)
            finally:
                await bench.store.close()
    assert summary is not None
    base = median_ms(loads)
    print(
        f"\n{label}: {len(new) / 1e6:.2f} MB, {summary.total_models} models; "
        f"+{summary.added} ~{summary.updated} -{summary.removed} "
        f"missing {summary.missing}  (n={repeat})"
    )
    print(f"  orjson.loads                 {base:8.2f} ms")
    for name, values, target in (
        ("pipeline, changed", changed, "(target <= 5x)"),
        ("pipeline, identical body", identical, "(target <= 0.5x)"),
        ("pipeline, changed, cold", cold, "(information)"),
    ):
        value = median_ms(values)
        print(f"  {name:<28} {value:8.2f} ms  {value / base:5.2f}x  {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--fixtures",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared" / "fixtures",
    )
    args = parser.parse_args()
    configure_logging("WARNING")
    if not args.fixtures.is_dir():
        sys.exit(f"recorded catalogs not found under {args.fixtures} (pass --fixtures)")
    for label, (adapter, old, new) in PAIRS.items():
        uvloop.run(
            measure(
                label,
                adapter,
                (args.fixtures / old).read_bytes(),
                (args.fixtures / new).read_bytes(),
                args.repeat,
            )
        )


if __name__ == "__main__":
    main()
