"""``/healthz`` latency of a ``serve`` process while a 50,000-model gateway syncs in it (issue 12
item 3), next to the same process idle.

The upstream (``bench_memory``'s, a process of its own) serves an OpenRouter-shaped catalog as one
page. The service runs here: the real app (``create_app``, scheduler off) under uvicorn on port 0,
on this process's event loop. A prober process of its own sends ``GET /healthz`` back to back on
one keep-alive connection and prints each latency with its ``CLOCK_MONOTONIC`` time, so the
samples are cut into windows: idle, during the first sync (every model added), during a steady
sync (1% repriced). Printed: p50, p99 and max per window; the target is p99 < 50 ms while syncing.

    python benchmarks/bench_loop.py [--models 50000] [--no-offload]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import IO

import uvicorn

sys.path.insert(0, str(Path(__file__).parent))
from bench_memory import sync_env, upstream

from modelsync.config import ResolvedGateway, load_settings
from modelsync.domain import ChangeSource
from modelsync.sync.offload import INLINE
from modelsync.web.app import create_app

PROBER = Path(__file__).with_name("healthz_prober.py")


def start_prober(port: int, sink: IO[str]) -> subprocess.Popen[bytes]:
    """The prober; its output goes to a file (a pipe left unread would fill and stop it)."""
    return subprocess.Popen(
        [sys.executable, str(PROBER), "127.0.0.1", str(port), "600"], stdout=sink
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def summary(label: str, samples: list[float]) -> str:
    if not samples:
        return f"  {label:<34} no samples"
    ms = [value * 1000 for value in samples]
    return (
        f"  {label:<34} n={len(ms):5d}  p50 {percentile(ms, 0.5):6.1f} ms  "
        f"p99 {percentile(ms, 0.99):6.1f} ms  max {max(ms):7.1f} ms"
    )


async def measure(base: str, models: int, folder: Path, offload: bool) -> dict[str, list[float]]:
    os.environ.update(
        sync_env(f"{base}/full/{models}/0/api/v1/models", folder, max(models, 100_000))
    )
    app = create_app(load_settings(), run_scheduler=False)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "the service did not start"
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    runner = app.state.services.runtime.runner
    if not offload:
        runner._offload = INLINE
    sink = (folder / "prober.out").open("w")
    prober = start_prober(port, sink)
    windows: dict[str, tuple[float, float]] = {}
    await asyncio.sleep(1.0)  # the prober connects
    began = time.monotonic()
    await asyncio.sleep(3.0)
    windows["idle"] = (began, time.monotonic())
    for label, generation in (("first sync (all added)", 0), ("steady sync (1% repriced)", 1)):
        url = f"{base}/full/{models}/{generation}/api/v1/models"
        gateways = runner.gateways
        assert isinstance(gateways, dict)
        gateways["bench"] = _at(gateways["bench"], url)
        began = time.monotonic()
        result = await runner.run("bench", trigger=ChangeSource.MANUAL, full=generation == 0)
        windows[f"{label}, {result.duration_ms / 1000:.1f} s"] = (began, time.monotonic())
        assert result.ok, result
    prober.terminate()
    prober.wait(timeout=30)
    sink.close()
    output = (folder / "prober.out").read_text()
    server.should_exit = True
    await serving
    samples = [tuple(map(float, line.split())) for line in output.splitlines() if line]
    return {
        label: [latency for at, latency in samples if start <= at <= end]
        for label, (start, end) in windows.items()
    }


def _at(gateway: ResolvedGateway, url: str) -> ResolvedGateway:
    """The gateway, its catalog at ``url`` (the upstream serves each generation at its path)."""
    return replace(gateway, config=replace(gateway.config, base_url=url))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=50_000)
    parser.add_argument("--no-offload", action="store_true", help="the run's CPU on the loop")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-loop-") as root, upstream() as base:
        windows = asyncio.run(measure(base, args.models, Path(root), not args.no_offload))
    where = "on the event loop" if args.no_offload else "offloaded"
    print(
        f"/healthz while {args.models:,} models sync in the same process ({where}); load {load:.1f}"
    )
    for label, samples in windows.items():
        print(summary(label, samples))


if __name__ == "__main__":
    main()
