"""The event loop never stalls (issue 12 item 3): ``/healthz`` keeps answering quickly while a
big gateway syncs in the same process.

The real app (``create_app``) runs under uvicorn on port 0 in this test's event loop; the
upstream is ``python -m http.server`` (a process of its own) serving a generated 20,000-model
OpenRouter-shaped catalog; ``benchmarks/healthz_prober.py`` (a process of its own, so its timing
never waits on this process's GIL) sends ``GET /healthz`` back to back. The margins are generous
(the target, measured by ``benchmarks/bench_loop.py`` at 50,000 models, is p99 < 50 ms): with the
run's CPU on the loop, the sync stalls every answer for seconds at a time.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest
import uvicorn

from modelsync.config import load_settings
from modelsync.domain import ChangeSource
from modelsync.sync.runner import RunSummary
from modelsync.web.app import create_app

PROBER = Path(__file__).parents[2] / "benchmarks" / "healthz_prober.py"
MODELS = 20_000


def catalog(count: int) -> bytes:
    return orjson.dumps(
        {
            "data": [
                {
                    "id": f"vendor{i % 97}/model-{i}",
                    "name": f"Vendor {i % 97}: Model {i}",
                    "created": 1_700_000_000 + i,
                    "description": f"Model number {i}, a general-purpose model for chat. " * 2,
                    "context_length": 8192 * (1 + i % 16),
                    "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
                    "pricing": {"prompt": f"0.000000{1 + i % 9}", "completion": "0.000002"},
                    "supported_parameters": ["max_tokens", "temperature", "tools"],
                }
                for i in range(count)
            ]
        }
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


@contextmanager
def upstream_serving(folder: Path) -> Iterator[str]:
    """``python -m http.server`` on ``folder``, on a free port; its base URL while it runs."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().split(" port ")[1].split()[0]
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


@contextmanager
def probing(port: int, out: Path) -> Iterator[None]:
    """The /healthz prober, its samples written to ``out``, while the block runs."""
    with out.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, str(PROBER), "127.0.0.1", str(port), "200"], stdout=sink
        )
        try:
            yield
        finally:
            process.terminate()
            process.wait(timeout=30)


@pytest.mark.timeout(240)
async def test_healthz_answers_quickly_while_a_big_gateway_syncs(tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "models.json").write_bytes(catalog(MODELS))
    with upstream_serving(tmp_path / "www") as base:
        summary, during = await sync_while_probing(tmp_path, base)
    assert summary.ok, summary
    assert summary.added == MODELS, summary
    assert during, "no answer at all while syncing"
    # answers kept coming all along (a stalled loop answers a handful in a long sync) ...
    assert len(during) >= duration_s(summary) * 10, (len(during), summary.duration_ms)
    # ... and quickly: p99 under 500 ms, none over 2 s (measured: p99 ~ 40 ms under load 10, once
    # 278 ms with a benchmark beside it; a stalled loop holds answers for seconds)
    print(f"p99 {percentile(during, 0.99):.1f} ms, max {max(during):.1f} ms, n {len(during)}")
    assert percentile(during, 0.99) < 500, sorted(during)[-20:]
    assert max(during) < 2000, sorted(during)[-20:]


def duration_s(summary: RunSummary) -> float:
    return summary.duration_ms / 1000


async def sync_while_probing(tmp_path: Path, base: str) -> tuple[RunSummary, list[float]]:
    """Sync the big gateway in a served app while the prober runs; the run's summary and the
    latencies (ms) of the answers asked for while it ran."""
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'service.db'}",
        gateways={"big": {"adapter": "openrouter", "base_url": f"{base}/models.json"}},
        http={"read_timeout_s": 120, "attempt_timeout_s": 300},
    )
    app = create_app(settings, run_scheduler=False)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    samples_file = tmp_path / "prober.out"
    try:
        while not server.started:
            assert not serving.done(), "the service did not start"
            await asyncio.sleep(0.05)
        with probing(server.servers[0].sockets[0].getsockname()[1], samples_file):
            await asyncio.sleep(1.0)
            began = time.monotonic()
            summary = await app.state.services.runtime.runner.run(
                "big", trigger=ChangeSource.MANUAL
            )
            ended = time.monotonic()
    finally:
        server.should_exit = True
        await serving
    lines = samples_file.read_text().splitlines()
    samples = [(float(at), float(latency) * 1000) for at, latency in map(str.split, lines)]
    return summary, [latency for at, latency in samples if began <= at <= ended]
