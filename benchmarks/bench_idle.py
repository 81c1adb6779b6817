"""One idle ``modelsync serve`` with 1,000 gateways: CPU share, memory, and ``/metrics`` latency.

1,000 configured ``openai_compat`` gateways (the shipped ones disabled) all point at the
simulator's groq listing (``modelsync simulate`` in a process of its own). The service starts,
every gateway runs once (the start-up spread), and then, with every next run minutes to hours
away, the process is idle: its scheduler ticks, its heartbeat refreshes the gauges and the
registry. Measured over ``--seconds`` (60 by default): CPU time / wall time of the process (the
target: under 5% of one core) and its RSS at the end (under 250 MB). Then ``GET /metrics`` is
fetched ``--scrapes`` times one after another: p50 and p99 of the answer time (target: under
10 ms), next to ``GET /healthz`` (the floor of one request) measured the same way, as a ratio.

    python benchmarks/bench_idle.py [--gateways 1000] [--seconds 60] [--scrapes 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from loadgen import BIN, cpu_seconds, free_port, process, wait_until_up

from modelsync.gateways.registry import BUILTIN


def config_text(gateways: int, simulator: str) -> str:
    """The TOML: the shipped gateways off, ``gateways`` OpenAI-style ones on the simulator."""
    lines = []
    for spec in BUILTIN:
        lines += [f"[gateways.{spec.name}]", "enabled = false"]
    for number in range(gateways):
        lines += [
            f"[gateways.bench-{number:04d}]",
            'adapter = "openai_compat"',
            f'base_url = "{simulator}/groq/openai/v1/models"',
            'key_env = "BENCH_GATEWAY_KEY"',  # the simulator asks for a key, as groq does
            'tier = "low"',
        ]
    return "\n".join(lines) + "\n"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def timed_gets(client: httpx.Client, url: str, count: int) -> list[float]:
    """Answer times (ms) of ``count`` sequential GETs."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return times


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def settled(client: httpx.Client, base: str, gateways: int) -> int:
    """How many gateways have finished a run."""
    rows = client.get(base + "/api/sync/status", timeout=30).json()["gateways"]
    return sum(1 for row in rows if row["last_outcome"] is not None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateways", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--scrapes", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as folder:
        work = Path(folder)
        sim_port, port = free_port(), free_port()
        simulator = f"http://127.0.0.1:{sim_port}"
        config = work / "gateways.toml"
        config.write_text(config_text(args.gateways, simulator))
        env = {
            key: value for key, value in os.environ.items() if not key.startswith("MODELSYNC_")
        } | {
            "MODELSYNC_CONFIG_FILE": str(config),
            "MODELSYNC_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'idle.db'}",
            "MODELSYNC_LOG_LEVEL": "WARNING",
            "MODELSYNC_SIMULATOR_FIXTURES": "none",
            "MODELSYNC_SCHEDULER__FIRST_RUN_WINDOW_S": "30",  # every gateway runs within 30 s
            "BENCH_GATEWAY_KEY": "bench-placeholder-key",
        }
        sim_args = [str(BIN / "modelsync"), "simulate", "--port", str(sim_port)]
        serve_args = [str(BIN / "modelsync"), "serve", "--port", str(port)]
        with process(sim_args, env, work), process(serve_args, env, work) as served:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(base + "/healthz", timeout_s=120)
            client = httpx.Client(timeout=30)
            started = time.monotonic()
            while (done := settled(client, base, args.gateways)) < args.gateways:
                if time.monotonic() - started > 600:
                    sys.exit(f"only {done} of {args.gateways} gateways ran within 10 minutes")
                time.sleep(2)
            print(f"{args.gateways} gateways ran once in {time.monotonic() - started:.0f} s")
            time.sleep(5)  # the last runs' listeners and the heartbeat settle
            cpu_before, wall_before = cpu_seconds(served.pid), time.monotonic()
            time.sleep(args.seconds)
            cpu = cpu_seconds(served.pid) - cpu_before
            wall = time.monotonic() - wall_before
            memory = rss_mb(served.pid)
            share = cpu / wall * 100
            print(f"idle: {share:.2f}% of one core over {wall:.0f} s (target < 5%)")
            print(f"RSS: {memory:.0f} MB (target < 250 MB)")
            timed_gets(client, base + "/metrics", 20)  # warm
            metrics = timed_gets(client, base + "/metrics", args.scrapes)
            floor = timed_gets(client, base + "/healthz", args.scrapes)
            size = client.get(base + "/metrics").num_bytes_downloaded
            print(
                f"/metrics ({size / 1024:.0f} KiB gzip): p50 {statistics.median(metrics):.2f} ms, "
                f"p99 {p99(metrics):.2f} ms (target < 10 ms); /healthz p50 "
                f"{statistics.median(floor):.2f} ms, p99 {p99(floor):.2f} ms; "
                f"ratio p50 {statistics.median(metrics) / statistics.median(floor):.1f}x"
            )
            print(f"load average: {os.getloadavg()[0]:.1f} (2 cores)")


if __name__ == "__main__":
    main()
