"""Signed webhook deliveries per second: modelsync vs a bare Starlette route, same load tool.

Both servers run as one uvicorn worker (uvloop, httptools) in their own process; ``wrk`` (Debian's
package) drives each in turn over loopback with the same pre-signed requests: unique Standard
Webhooks deliveries (distinct ``webhook-id``), one small ``models.updated`` event each. The bare
route answers 200 without reading the body. modelsync runs as ``modelsync serve`` runs it:
SQLite database, each delivery committed before its answer (group commit), tag invalidation,
and a coalesced verification sync of the gateway against the simulator. Printed: requests/s,
p50 and p99 latency of each, the ratio, and how many of the deliveries answered 2xx the
database holds.

Then, on a second service whose hints are not debounced (``hint_debounce_s=0``,
``hint_min_interval_s=0``: the mechanism's own latency, not the configured wait), the time from
a delivery answered 2xx to the start of its verification sync (the run's ``started_at``), over
sequential deliveries: p50 and p99.

    python benchmarks/bench_webhooks.py [--seconds 10] [--connections 32] [--repeat 3]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import orjson
from loadgen import BIN, UVICORN_ARGS, free_port, process, run_wrk, wait_until_up

from modelsync.webhooks.signing import sign_standard

BARE_APP = """
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

async def hook(request):
    return Response(status_code=200)

app = Starlette(routes=[Route("/api/webhooks/models-updated", hook, methods=["POST"])])
"""

LUA = """
local requests = {}
local count = 0
local index = 0
local thread_id = 0
local threads = 1

function setup(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end

function init(args)
  threads = tonumber(args[2])
  for line in io.lines(args[1]) do
    local headers_raw, body = line:match("^(.-)\\t(.*)$")
    local headers = {}
    for name, value in headers_raw:gmatch("([^=|]+)=([^|]*)") do headers[name] = value end
    count = count + 1
    requests[count] = wrk.format("POST", "/api/webhooks/models-updated", headers, body)
  end
  index = thread_id
end

function request()
  index = index + threads
  return requests[(index % count) + 1]
end
"""

GATEWAYS = ("openrouter", "groq", "together", "fireworks", "google", "cerebras", "nebius", "xai")


def write_requests(path: Path, secret: str, count: int, prefix: str) -> None:
    """``count`` signed deliveries with ids never used before (``prefix``), one per line:
    ``name=value|...<TAB>body``."""
    now = int(time.time())
    with path.open("w") as handle:
        for number in range(count):
            gateway = GATEWAYS[number % len(GATEWAYS)]
            body = orjson.dumps(
                {
                    "gateway": gateway,
                    "event_type": "models.updated",
                    "models": [{"id": f"bench/model-{number % 50}"}],
                    "timestamp": now * 1000,
                }
            )
            msg_id = f"msg_{prefix}_{number}"
            headers = {
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(now),
                "webhook-signature": sign_standard(secret, msg_id, now, body),
            }
            joined = "|".join(f"{name}={value}" for name, value in headers.items())
            handle.write(f"{joined}\t{body.decode()}\n")


def stored_deliveries(database: Path) -> int:
    """How many deliveries the benchmark's SQLite database holds."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        (count,) = connection.execute("SELECT count(*) FROM webhook_deliveries").fetchone()
    return int(count)


def sync_start_latency(base: str, secret: str, count: int) -> list[float]:
    """Milliseconds from a 2xx webhook answer to the start of the sync it requested."""
    latencies = []
    with httpx.Client(base_url=base, timeout=5.0) as client:
        for number in range(count):
            gateway = GATEWAYS[number % len(GATEWAYS)]
            now = int(time.time())
            body = orjson.dumps(
                {"gateway": gateway, "event_type": "models.added",
                 "models": [{"id": f"vis/{number}"}], "timestamp": now * 1000}
            )  # fmt: skip
            msg_id = f"msg_visible_{number}_{secrets.token_hex(4)}"
            headers = {
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(now),
                "webhook-signature": sign_standard(secret, msg_id, now, body),
            }
            answer = client.post("/api/webhooks/models-updated", content=body, headers=headers)
            assert answer.status_code == 202, answer.text
            answered = time.time()
            deadline = answered + 30
            while True:
                status = client.get("/api/sync/status", params={"gateway": gateway}).json()
                run = status["gateways"][0]["last_run"]
                started = datetime.fromisoformat(run["started_at"]).timestamp() if run else 0.0
                if run and run["trigger"] == "webhook" and started >= answered - 1.0:
                    break
                if time.time() > deadline:
                    raise RuntimeError(f"no verification sync of {gateway} within 30 s")
                time.sleep(0.002)
            latencies.append(max(0.0, started - answered) * 1000)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "bare_app.py").write_text(BARE_APP)
        lua = work / "deliveries.lua"
        lua.write_text(LUA)
        requests = work / "requests.txt"
        sim_port, bare_port, app_port, quick_port = (free_port() for _ in range(4))
        database = work / "bench.db"
        env = {**os.environ, "MODEL_WEBHOOK_SECRET": secret,
               "MODELSYNC_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
               "MODELSYNC_UPSTREAM": f"http://127.0.0.1:{sim_port}",
               "MODELSYNC_LOG_LEVEL": "WARNING", "PYTHONPATH": str(work)}  # fmt: skip
        quick_env = {**env, "MODELSYNC_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'quick.db'}",
                     "MODELSYNC_SCHEDULER__HINT_DEBOUNCE_S": "0",
                     "MODELSYNC_SCHEDULER__HINT_MIN_INTERVAL_S": "0"}  # fmt: skip
        modelsync = str(BIN / "modelsync")
        with (
            process([modelsync, "simulate", "--port", str(sim_port)], env, work),
            process([str(BIN / "uvicorn"), "bare_app:app", "--port", str(bare_port),
                     *UVICORN_ARGS], env, work),
            process([modelsync, "serve", "--port", str(app_port)], env, work),
            process([modelsync, "serve", "--port", str(quick_port)], quick_env, work),
        ):  # fmt: skip
            for port in (sim_port, bare_port, app_port, quick_port):
                wait_until_up(f"http://127.0.0.1:{port}/")
            bare_runs, hook_runs = [], []
            answered_2xx = stored = 0
            url = "http://127.0.0.1:{}/api/webhooks/models-updated"
            # warm-up, not counted: past the service's start-up syncs
            write_requests(requests, secret, 50_000, "warmup")
            for port in (bare_port, app_port):
                run_wrk(
                    url.format(port),
                    seconds=3,
                    connections=args.connections,
                    script=lua,
                    script_args=(str(requests), "1"),
                )
            for round_number in range(args.repeat):
                # fresh deliveries every round: a repeated id is a (cheap) duplicate
                count = 60_000 * args.seconds
                write_requests(requests, secret, count, f"r{round_number}_{secrets.token_hex(4)}")
                before = stored_deliveries(database)
                for port, runs in ((bare_port, bare_runs), (app_port, hook_runs)):
                    runs.append(run_wrk(url.format(port), seconds=args.seconds,
                                        connections=args.connections, script=lua,
                                        script_args=(str(requests), "1")))  # fmt: skip
                stored += stored_deliveries(database) - before
                answered_2xx += int(hook_runs[-1]["requests"] - hook_runs[-1]["non_2xx"])
            latencies = sync_start_latency(f"http://127.0.0.1:{quick_port}", secret, 200)

    def med(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    print(f"wrk -t1 -c{args.connections} -d{args.seconds}s, {args.repeat} rounds, one uvicorn "
          "worker each, loopback")  # fmt: skip
    for label, runs in (("bare Starlette route", bare_runs), ("modelsync webhook", hook_runs)):
        rps, p50, p99 = med(runs, "rps"), med(runs, "p50"), med(runs, "p99")
        print(f"  {label:<22} {rps:9.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms"
              f"   non-2xx {med(runs, 'non_2xx'):.0f}")  # fmt: skip
    ratios = [hook["rps"] / bare["rps"] for hook, bare in zip(hook_runs, bare_runs, strict=True)]
    print(f"  ratio modelsync/bare: median {statistics.median(ratios):.2f} "
          f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})")  # fmt: skip
    print(f"  durable: {answered_2xx} deliveries answered 2xx, {stored} stored "
          f"({'every one' if stored >= answered_2xx else 'SOME LOST'})")  # fmt: skip
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(
        f"webhook answered 2xx -> its verification sync started (hints not debounced), "
        f"{len(latencies)} deliveries: p50 {statistics.median(latencies):.2f} ms, "
        f"p99 {p99:.2f} ms"
    )


if __name__ == "__main__":
    main()
