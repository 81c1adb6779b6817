"""Share of active offers with a prompt price, per gateway, before and after the reference
catalogs fill the offers whose gateway gives none (issue 9, "Measured").

The offers: the recorded captures of OpenRouter, Groq, Together, Fireworks, Cerebras, Nebius
(plain listing: no prices), Vercel and xAI of 2025-07-25 and the Gemini capture, each through its
adapter. The reference catalogs: the recorded models.dev ``api.json`` (2026-06-13) and LiteLLM
price file (2026-07-24), through :mod:`modelsync.reference` exactly as the service applies them
(matched by gateway and gateway model id, then canonical id and variants). The captures are a
year older than the catalogs, so the "after" figures are a floor: live data lines up better.
Also printed: how long building both tables and enriching every offer takes.

``--simulator`` measures the same share through the runner: every gateway of the simulator
(built-in catalogs) synced into a fresh SQLite file without, then with, both reference catalogs
configured (the simulator plays them).

    python benchmarks/bench_prices.py [--fixtures ../shared/fixtures] [--simulator]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from identity_captures import capture_models
from modelsync.config import Settings, resolve_gateways
from modelsync.domain import Model, ModelStatus
from modelsync.gateways.base import Page
from modelsync.gateways.registry import build_adapter
from modelsync.reference.service import gateway_identify, parse_catalog
from modelsync.reference.table import ReferenceTable, build_table, enrich

CATALOGS = (
    ("models.dev", "modelsdev",
     "catalogs/models.dev_api.json_2026-06-13_via_symfony-models-dev.json"),
    ("litellm", "litellm",
     "catalogs/litellm_model_prices_and_context_window_2026-07-24_via_RoCry-llm-api-price.json"),
)  # fmt: skip
AT = datetime(2026, 7, 24, tzinfo=UTC)


def tables(fixtures: Path) -> list[ReferenceTable]:
    identify = gateway_identify(resolve_gateways(Settings(database_url="sqlite+aiosqlite://")))
    found = []
    for name, kind, relative in CATALOGS:
        document = orjson.loads((fixtures / relative).read_bytes())
        models = parse_catalog(build_adapter(kind, name), [Page(document)])
        found.append(build_table(name, kind, AT, models, identify))
    return found


def share(offers: list[Model]) -> float:
    return sum(1 for m in offers if m.pricing.prompt is not None) / len(offers)


async def simulator_shares(references: bool) -> dict[str, tuple[int, int]]:
    """Per gateway: (active offers with a prompt price, active offers) after a ``sync all``."""
    import tempfile  # noqa: PLC0415 - only this mode needs them

    import bench_sync_all as bench  # noqa: PLC0415
    import httpx  # noqa: PLC0415

    from modelsync.clock import ManualClock, SystemClock  # noqa: PLC0415
    from modelsync.fetch import Fetcher, build_client  # noqa: PLC0415
    from modelsync.guard import GuardPolicy  # noqa: PLC0415
    from modelsync.runtime import registrations  # noqa: PLC0415
    from modelsync.simulator import SimulatorConfig, create_simulator_app  # noqa: PLC0415
    from modelsync.store.base import ModelQuery  # noqa: PLC0415
    from modelsync.store.sql import SqlStore  # noqa: PLC0415
    from modelsync.sync.runner import SyncRunner  # noqa: PLC0415

    app = create_simulator_app(SimulatorConfig(use_fixtures=False, clock=ManualClock()))
    gateways = resolve_gateways(Settings(upstream=bench.UPSTREAM, database_url="sqlite://"))
    with tempfile.TemporaryDirectory() as folder:
        store = SqlStore(f"sqlite+aiosqlite:///{Path(folder) / 'prices.db'}")
        await store.open()
        try:
            await store.register_gateways(registrations(gateways))
            transport = httpx.ASGITransport(app=app)
            async with build_client(bench.POLICY, transport=transport) as client:
                runner = SyncRunner(
                    store=store, fetcher=Fetcher(client, bench.POLICY), gateways=gateways,
                    guard=GuardPolicy(), clock=SystemClock(), owner="bench",
                    upstream=bench.UPSTREAM,
                )  # fmt: skip
                if references:
                    await bench.with_references(runner, store, gateways)
                await runner.run_many([n for n, g in gateways.items() if g.enabled])
            stored = await store.list_models(ModelQuery(limit=100_000))
        finally:
            await store.close()
    shares: dict[str, tuple[int, int]] = {}
    for item in stored:
        model = item.model
        if model.status is not ModelStatus.ACTIVE:
            continue
        priced, total = shares.get(model.gateway, (0, 0))
        shares[model.gateway] = (priced + (model.pricing.prompt is not None), total + 1)
    return shares


def simulator_report() -> None:
    import asyncio  # noqa: PLC0415

    from modelsync.observability import configure_logging  # noqa: PLC0415

    configure_logging("WARNING")
    before = asyncio.run(simulator_shares(references=False))
    after = asyncio.run(simulator_shares(references=True))
    print("simulator, active offers with a prompt price: without -> with reference catalogs")
    for gateway, (priced, total) in sorted(before.items()):
        again, _ = after.get(gateway, (0, total))
        print(f"  {gateway:<18} {total:>4} offers: {priced / total:6.1%} -> {again / total:6.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
    parser.add_argument("--fixtures", type=Path, default=default)
    parser.add_argument("--simulator", action="store_true")
    args = parser.parse_args()
    if args.simulator:
        simulator_report()
    models = [m for m in capture_models(args.fixtures) if m.status is ModelStatus.ACTIVE]
    began = time.perf_counter()
    modelsdev, litellm = tables(args.fixtures)
    built = time.perf_counter() - began
    by_gateway: dict[str, list[Model]] = defaultdict(list)
    for model in models:
        by_gateway[model.gateway].append(model)
    began = time.perf_counter()
    both = {g: [enrich(m, (litellm, modelsdev)) for m in o] for g, o in by_gateway.items()}
    enriched_s = time.perf_counter() - began
    print(
        f"tables: models.dev {len(modelsdev.by_id)} offers priced, litellm {len(litellm.by_id)}"
        f" (built in {built:.2f} s); enriching {len(models)} offers: {enriched_s * 1000:.1f} ms"
    )
    print("active offers with a prompt price: gateway API -> +models.dev -> +litellm -> both")
    total = [0, 0, 0, 0, 0]
    for gateway, offers in sorted(by_gateway.items()):
        own = share(offers)
        md = share([enrich(m, (modelsdev,)) for m in offers])
        ll = share([enrich(m, (litellm,)) for m in offers])
        all_ = share(both[gateway])
        n = len(offers)
        total[0] += n
        for i, value in enumerate((own, md, ll, all_), 1):
            total[i] += round(value * n)
        print(f"  {gateway:<18} {n:>4} offers: {own:6.1%} -> {md:6.1%} -> {ll:6.1%} -> {all_:6.1%}")
    n = total[0]
    print(f"  {'all':<18} {n:>4} offers: " + " -> ".join(f"{t / n:6.1%}" for t in total[1:]))


if __name__ == "__main__":
    main()
