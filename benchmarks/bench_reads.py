"""Uncached reads per second: modelsync vs a bare Starlette route serving the same bytes.

For each database (SQLite, PostgreSQL), a fresh database is loaded with the models.dev catalog as
one gateway (``modelsdev``, beside the 13 shipped ones; every gateway has a recorded run and its
next run a week away, so the scheduler stays idle), then ``modelsync`` is served by one uvicorn
worker (uvloop, httptools). Each read is fetched once from it, and those exact bytes are served
from memory by a bare Starlette route in another one-worker uvicorn. ``wrk -t1`` drives each in
turn over loopback, the same path on both; printed: requests/s and p99 of each, and the ratio
modelsync/bare measured in this run, next to the target of issue 12.

Then the same database with 1,000 more gateways (configured ``openai_compat`` gateways, each with
a recorded run): ``/api/sync/status`` time per request with 1,014 gateways over its time with 14.

Nothing here is cached: modelsync runs with its response cache off
(``MODELSYNC_CACHE__ENABLED=false``), so the figures are those of the path under it;
``bench_cache.py`` measures the cached path against the same bare route.

    python benchmarks/bench_reads.py [--seconds 8] [--connections 32] [--rounds 1]
                                     [--databases sqlite postgres] [--fixtures ../shared/fixtures]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from loadgen import (
    CATALOG,
    OFFERS,
    Read,
    config_text,
    database,
    load,
    measure,
    pick_model,
    report,
    serving,
)

from modelsync.observability import configure_logging

MORE_GATEWAYS = 1000


def bench_database(kind: str, catalog: bytes, work: Path, args: argparse.Namespace) -> None:
    config = work / f"{kind}-14.toml"
    config.write_text(config_text(0))
    many = work / f"{kind}-{MORE_GATEWAYS + 14}.toml"
    many.write_text(config_text(MORE_GATEWAYS))
    with database(kind, work, "catalog") as url, database(kind, work, "gateways") as many_url:
        asyncio.run(load(url, config, catalog))
        asyncio.run(load(many_url, many, None))
        model_id = asyncio.run(pick_model(url, config))
        reads = [
            Read(f"/api/models/{{id}} ({OFFERS} offers)", f"/api/models/{model_id}", 0.25),
            Read("/api/models?limit=100", "/api/models?limit=100", 0.10),
            Read("/api/models?q=llama", "/api/models?q=llama", 0.05),
            Read("/api/changes?limit=100", "/api/changes?limit=100", 0.15),
            Read("/api/sync/status (14 gateways)", "/api/sync/status", 0.25),
        ]
        with serving(url, config, work) as app:
            results = measure(reads, app, work, args)
        status = Read(f"/api/sync/status ({MORE_GATEWAYS + 14} gateways)", "/api/sync/status", 0)
        with serving(many_url, many, work) as app:
            (crowded,) = measure([status], app, work, args)
    report(kind, results)
    few = results[-1].median("app", "rps")
    slower = few / max(crowded.median("app", "rps"), 1e-9)
    verdict = "ok" if slower < 3 else "ABOVE"
    print(
        f"  {crowded.read.label:<34} {crowded.size:>8,} {crowded.median('bare', 'rps'):>11,.0f} "
        f"{crowded.median('app', 'rps'):>8,.0f} {crowded.median('app', 'p99'):>8.1f}   "
        f"time per request {slower:.2f}x that with 14 (target < 3x) {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgres"],
                        choices=["sqlite", "postgres"])  # fmt: skip
    parser.add_argument(
        "--fixtures", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "fixtures"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")
    catalog_path = args.fixtures / CATALOG
    if not catalog_path.is_file():
        sys.exit(f"{CATALOG} not found under {args.fixtures} (pass --fixtures)")
    configure_logging("WARNING")
    print(f"models.dev catalog as one gateway; wrk -t1 -c{args.connections} -d{args.seconds}s, "
          f"{args.rounds} round(s), one uvicorn worker each, loopback; nothing cached")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        for kind in args.databases:
            bench_database(kind, catalog_path.read_bytes(), Path(folder), args)


if __name__ == "__main__":
    main()
