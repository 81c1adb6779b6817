"""What the HTTP benchmarks share: free ports, child servers, ``wrk`` runs parsed, the models.dev
catalog loaded as a gateway, modelsync and the bare Starlette route served side by side, and
their figures measured and printed.

Imported by the benchmark scripts beside it (run as ``python benchmarks/bench_*.py``, which puts
this folder on ``sys.path``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import orjson
from sqlalchemy.engine import make_url

from modelsync.clock import SystemClock
from modelsync.config import load_settings
from modelsync.domain import ChangeSource, RunOutcome
from modelsync.runtime import open_runtime
from modelsync.store import migrate
from modelsync.store.base import ModelQuery, RunRecord, Store

BIN = Path(sys.executable).parent
UVICORN_ARGS = ["--loop", "uvloop", "--http", "httptools", "--log-level", "warning",
                "--no-access-log", "--workers", "1"]  # fmt: skip
"""One uvicorn worker as production runs it, for modelsync and for the bare route alike."""


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, timeout_s: float = 30.0) -> None:
    """Return once ``url`` answers below 500; RuntimeError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child process for the duration of the block (terminated, then waited for)."""
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process, all its threads, so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(
    url: str,
    *,
    seconds: int,
    connections: int,
    script: Path | None = None,
    script_args: Sequence[str] = (),
) -> dict[str, float]:
    """``wrk -t1`` against ``url``: requests/s, p50 and p99 (ms), and non-2xx answers."""
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        args += ["-s", str(script)]
    args.append(url)
    if script_args:
        args += ["--", *script_args]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def percentile(label: str) -> float:
        match = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)\b", out)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {
        "requests": float(total.group(1)) if total else 0.0,
        "rps": rps,
        "p50": percentile("50"),
        "p99": percentile("99"),
        "non_2xx": float(non_2xx.group(1)) if non_2xx else 0.0,
    }


# -- the models.dev catalog as a gateway, modelsync and the bare route side by side -----------

CATALOG = "catalogs/models.dev_api.json_2026-06-13_via_symfony-models-dev.json"
POSTGRES = os.environ.get("MODELSYNC_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1")
OFFERS = 6
"""The detail read is a model offered by this many gateways (as in the issue's figures)."""

BARE_APP = """
from pathlib import Path

import orjson
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

TEXTS = orjson.loads(Path("bodies.json").read_bytes())
BODIES = {key: text.encode() for key, text in TEXTS.items()}


async def serve(request):
    key = request.scope["path"] + "?" + request.scope["query_string"].decode()
    return Response(BODIES[key], media_type="application/json")


app = Starlette(routes=[Route("/{path:path}", serve)])
"""


@dataclass(frozen=True, slots=True)
class Server:
    base: str
    pid: int


@dataclass(frozen=True, slots=True)
class Read:
    label: str
    path: str
    target: float


@dataclass(frozen=True, slots=True)
class Measured:
    read: Read
    size: int
    bare: list[dict[str, float]]
    app: list[dict[str, float]]

    def median(self, side: str, key: str) -> float:
        runs = self.bare if side == "bare" else self.app
        return statistics.median(run[key] for run in runs)

    @property
    def ratio(self) -> float:
        return statistics.median(
            app["rps"] / bare["rps"] for app, bare in zip(self.app, self.bare, strict=True)
        )

    @property
    def cpu_ratio(self) -> float:
        """Bare CPU per request over modelsync's: the ratio on a quiet machine, where each
        one-worker server is CPU-bound (modelsync's database threads count against it)."""
        return statistics.median(
            bare["cpu_us"] / app["cpu_us"] for app, bare in zip(self.app, self.bare, strict=True)
        )


def config_text(extra_gateways: int) -> str:
    """The TOML file: models.dev as a gateway, plus ``extra_gateways`` OpenAI-style ones."""
    lines = [
        "[gateways.modelsdev]",
        'adapter = "modelsdev"',
        'base_url = "https://models.dev/api.json"',
        'tier = "low"',
    ]
    for number in range(extra_gateways):
        lines += [
            f"[gateways.bench-{number:04d}]",
            'adapter = "openai_compat"',
            f'base_url = "https://gateway-{number}.invalid/v1/models"',
            "key_required = false",
        ]
    return "\n".join(lines) + "\n"


async def load(url: str, config: Path, catalog: bytes | None) -> None:
    """Register every configured gateway, sync the catalog into ``modelsdev``, and record one
    unchanged run for every other gateway; every next run a week away."""
    os.environ["MODELSYNC_CONFIG_FILE"] = str(config)
    settings = load_settings(database_url=url)

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=catalog or b"{}", request=request)

    async with open_runtime(settings, transport=httpx.MockTransport(answer)) as runtime:
        store, now = runtime.store, SystemClock().now()
        later = now + timedelta(days=7)
        if catalog is not None:
            summary = await runtime.runner.run("modelsdev", trigger=ChangeSource.MANUAL)
            assert summary.ok, summary
        for name in runtime.gateways:
            if name == "modelsdev" and catalog is not None:
                await store.set_next_run(name, later)
                continue
            record = RunRecord(
                gateway=name,
                trigger=ChangeSource.POLL,
                outcome=RunOutcome.UNCHANGED,
                started_at=now,
                finished_at=now,
                next_run_at=later,
            )
            await store.finish_run(record, None, lease=None, now=now)


async def model_with_offers(store: Store, offers: int) -> str:
    """The first canonical id offered ``offers`` times (else the most offered one)."""
    counts: Counter[str] = Counter()
    offset = 0
    while page := await store.list_models(ModelQuery(limit=5000, offset=offset)):
        counts.update(stored.model.id for stored in page)
        offset += len(page)
    exact = sorted(model_id for model_id, count in counts.items() if count == offers)
    return exact[0] if exact else counts.most_common(1)[0][0]


async def pick_model(url: str, config: Path) -> str:
    os.environ["MODELSYNC_CONFIG_FILE"] = str(config)
    async with open_runtime(load_settings(database_url=url)) as runtime:
        return await model_with_offers(runtime.store, OFFERS)


@contextmanager
def database(kind: str, folder: Path, name: str) -> Iterator[str]:
    """A fresh, migrated database URL of ``kind``; a PostgreSQL one is dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / (name + '.db')}"
        return
    server = make_url(POSTGRES)
    admin_url = server.set(drivername="postgresql", database="postgres")
    dsn = admin_url.render_as_string(hide_password=False)
    database_name = f"modelsync_bench_{name}_{uuid.uuid4().hex[:8]}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(dsn, timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{database_name}"'))
    url = server.set(database=database_name).render_as_string(hide_password=False)
    try:
        asyncio.run(migrate.upgrade(url))
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)'))


@contextmanager
def serving(
    url: str, config: Path, work: Path, *, cache: bool = False, **settings: str
) -> Iterator[Server]:
    """modelsync on ``url`` under one uvicorn worker; its base URL while it runs. The response
    cache is off unless ``cache``: these figures are the path under it (bench_cache.py measures
    it on); ``settings`` are more environment variables."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("MODELSYNC")}
    env |= {
        "MODELSYNC_DATABASE_URL": url,
        "MODELSYNC_CONFIG_FILE": str(config),
        "MODELSYNC_LOG_LEVEL": "WARNING",
        "MODELSYNC_CACHE__ENABLED": "true" if cache else "false",
        **settings,
    }
    factory = "modelsync.web.app:app_from_environment"
    args = [str(BIN / "uvicorn"), "--factory", factory, "--port", str(port), *UVICORN_ARGS]
    with process(args, env, work) as child:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/healthz")
        yield Server(base, child.pid)


@contextmanager
def bare_serving(bodies: dict[str, bytes], work: Path) -> Iterator[Server]:
    """The bare Starlette route serving ``bodies`` (keyed ``path?query``) from memory."""
    folder = work / f"bare-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    (folder / "bare_app.py").write_text(BARE_APP)
    (folder / "bodies.json").write_bytes(orjson.dumps({k: v.decode() for k, v in bodies.items()}))
    port = free_port()
    args = [str(BIN / "uvicorn"), "bare_app:app", "--port", str(port), *UVICORN_ARGS]
    with process(args, {**os.environ, "PYTHONPATH": str(folder)}, folder) as child:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + next(iter(bodies)))
        yield Server(base, child.pid)


def fetch(base: str, path: str) -> bytes:
    response = httpx.get(base + path, timeout=30)
    if response.status_code != 200:
        sys.exit(f"GET {path}: {response.status_code} {response.text[:200]}")
    return response.content


def key_of(path: str) -> str:
    return path if "?" in path else path + "?"


def load_server(server: Server, path: str, args: argparse.Namespace) -> dict[str, float]:
    """One wrk run, with the server's CPU time per request (microseconds) beside its figures."""
    before = cpu_seconds(server.pid)
    run = run_wrk(server.base + path, seconds=args.seconds, connections=args.connections)
    assert run["non_2xx"] == 0, (path, run)
    run["cpu_us"] = (cpu_seconds(server.pid) - before) / max(run["requests"], 1) * 1e6
    return run


def measure(reads: list[Read], app: Server, work: Path, args: argparse.Namespace) -> list[Measured]:
    """Each read against the bare route and modelsync, in turn, ``args.rounds`` times."""
    bodies = {key_of(read.path): fetch(app.base, read.path) for read in reads}
    results = []
    with bare_serving(bodies, work) as bare:
        for read in reads:
            runs: dict[str, list[dict[str, float]]] = {"bare": [], "app": []}
            for server in (bare, app):  # warm-up, not counted
                run_wrk(server.base + read.path, seconds=1, connections=args.connections)
            for _ in range(args.rounds):
                for side, server in (("bare", bare), ("app", app)):
                    runs[side].append(load_server(server, read.path, args))
            size = len(bodies[key_of(read.path)])
            results.append(Measured(read, size, runs["bare"], runs["app"]))
    return results


def report(kind: str, results: list[Measured]) -> None:
    print(f"\n{kind}")
    print(f"  {'read':<34} {'bytes':>8} {'bare req/s':>11} {'req/s':>8} {'p99 ms':>8} "
          f"{'ratio':>6}  target       {'cpu us/req: bare':>16} {'app':>6} "
          f"{'ratio':>6}")  # fmt: skip
    for found in results:
        ok = "ok" if found.ratio >= found.read.target else "BELOW"
        print(
            f"  {found.read.label:<34} {found.size:>8,} {found.median('bare', 'rps'):>11,.0f} "
            f"{found.median('app', 'rps'):>8,.0f} {found.median('app', 'p99'):>8.1f} "
            f"{found.ratio:>6.3f}  >= {found.read.target:.2f} {ok:<5} "
            f"{found.median('bare', 'cpu_us'):>16,.0f} {found.median('app', 'cpu_us'):>6,.0f} "
            f"{found.cpu_ratio:>6.3f}"
        )


def bench_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every ``wrk`` benchmark takes: its load and where the fixtures are."""
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--fixtures", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "fixtures"
    )


def catalog_file(args: argparse.Namespace) -> Path:
    """The models.dev catalog under ``--fixtures``; exits with one line when ``wrk`` or the
    catalog is missing."""
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")
    catalog: Path = args.fixtures / CATALOG
    if not catalog.is_file():
        sys.exit(f"{CATALOG} not found under {args.fixtures} (pass --fixtures)")
    return catalog
