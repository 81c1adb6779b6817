"""Peak RSS of ``modelsync sync`` for one gateway of 50,000 and 300,000 models, and of the
rejected-count path for 1,000,000 (issue 6), next to the floor ``python3 -c pass``.

A bare HTTP server (a process of its own) serves a generated OpenRouter-shaped catalog (each model
about 600 bytes: id, name, a description, prices, context, architecture, parameters) as one page.
Each case runs the real console script ``modelsync sync bench --json`` as a child against it, on
a new SQLite database (``fresh``), and then again after 1% of the models were repriced
(``steady``: the second run of a process is a new process too, so it diffs against the
database). The child's peak RSS is its own ``ru_maxrss`` from ``os.wait4``. The 1,000,000-model
case uses tiny entries (``{"id": ...}``, 14 MB, the shape that took 8.96 GB before) and the
default count bound (100,000): it must be rejected under 500 MB.

``serve`` (issue 12 item 2): a child process opens the service's runtime (the runner with its
off-loop worker, as ``serve`` does), syncs one gateway, collects, and reports what stays: its
RSS growth over the process before the sync, and the deep size of the runner's memo (what the
next run diffs against), per model. Target: under 2 KB per model kept between runs.

    python benchmarks/bench_memory.py [--sizes 5000 50000 300000] [--rejected 1000000]
        [--resident 5000 50000]

Profile of the 50,000-model CLI sync (issue 12 item 2: peak under 300 MB). RSS sampled at the
run's phases and ``ru_maxrss`` at each phase's end, tracemalloc for the Python heap; MB = 10^6.

* Before: fresh 335 MB, steady 349 MB. Both: ~90-99 MB before the fetch (interpreter, imports,
  the database opened; a fresh one migrated). Decoding the 27 MB body: the document ~115 MB,
  orjson's parse ~58 MB beside it while it runs. Fresh: the document stayed whole through
  normalize (+86 MB for 50,000 models beside it, 300 MB); the plan's ADDED changes each held a
  dict of ~15 ``(None, value)`` pairs (87 MB traced, 307 MB); staging, publishing and the memo
  332 MB. Steady: the stored catalog read beside the document in 5,000-row pages of parsed JSON,
  each entry keeping its own copies of repeated strings (80 MB traced, 1,588 B an entry; 340 MB),
  then normalize beside both (349 MB).
* After: fresh 293 MB, steady 283 MB. ~83 MB before the fetch (asyncpg and the Sentry SDK no
  longer imported by a SQLite process without a DSN: ~9 MB; a fresh database adds Alembic's
  ~10 MB). The document is freed entry by entry as the snapshot reads it (``releasing_entries``),
  an added model's field diff is read from the model (``AddedFields``), the stored catalog is
  read in 1,000-row pages whose entries share repeated values (52 MB traced, 1,039 B an entry).
  The peak of both is now the decode itself: base + body 27 + orjson's parse ~58 + document
  ~115 MB. Below that floor takes a decoder that does not hold the whole body, its parse and
  the whole document at once (the serve path's worker-process split moves it, not removes it).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson

BIN = Path(sys.executable).parent
MB = 1_000_000
MIB = 1024 * 1024
REJECTED_BUDGET = 500 * MB


def catalog(count: int, *, generation: int = 0) -> bytes:
    """An OpenRouter-shaped listing of ``count`` models (1% repriced per ``generation``)."""
    models = []
    for i in range(count):
        repriced = generation and i % 100 == 0
        models.append(
            {
                "id": f"vendor{i % 97}/model-{i}",
                "name": f"Vendor {i % 97}: Model {i}",
                "created": 1_700_000_000 + i,
                "description": f"Model number {i}, a general-purpose model for chat and tools. "
                * 2,
                "context_length": 8192 * (1 + i % 16),
                "architecture": {
                    "input_modalities": ["text", "image"] if i % 3 == 0 else ["text"],
                    "output_modalities": ["text"],
                    "tokenizer": "Other",
                },
                "pricing": {
                    "prompt": f"0.000000{1 + i % 9 + (5 if repriced else 0)}",
                    "completion": f"0.00000{1 + i % 9}",
                },
                "top_provider": {"context_length": 8192, "max_completion_tokens": 4096},
                "supported_parameters": ["max_tokens", "temperature", "tools", "top_p"],
            }
        )
    return orjson.dumps({"data": models})


def tiny(count: int) -> bytes:
    """``count`` models that are nothing but an id (the cheapest body per model)."""
    return orjson.dumps({"data": [{"id": f"m{i}"} for i in range(count)]})


def serve() -> None:
    """The upstream, run as its own process (``--serve``) so the benchmark stays small: a child
    forked from a big parent would count the parent's pages in its peak. ``GET
    /{shape}/{count}/{generation}/...`` answers that catalog, built once; prints its port."""
    cached: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            shape, count, generation = self.path.strip("/").split("/")[:3]
            key = f"{shape}/{count}/{generation}"
            if key not in cached:
                cached.clear()
                number = int(count)
                built = (
                    tiny(number) if shape == "tiny" else catalog(number, generation=int(generation))
                )
                cached[key] = built
            body = cached[key]
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


@contextmanager
def upstream() -> Iterator[str]:
    """The upstream process; its base URL while it runs."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        yield f"http://127.0.0.1:{process.stdout.readline().strip()}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def peak_of(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, int, str]:
    """Run a child to its end; its peak RSS (bytes), exit code and the tail of its output."""
    out = cwd / "child.out"
    with out.open("wb") as sink:
        child = subprocess.Popen(args, cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
    return usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status), out.read_text()[-600:]


def sync_env(url: str, folder: Path, max_models: int) -> dict[str, str]:
    """The environment of ``modelsync sync bench``: one configured gateway at ``url``, big
    limits."""
    config = folder / "modelsync.toml"
    config.write_text(f'[gateways.bench]\nadapter = "openrouter"\nbase_url = "{url}"\n')
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MODELSYNC_")}
    return clean | {
        "MODELSYNC_CONFIG_FILE": str(config),
        "MODELSYNC_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'bench.db'}",
        "MODELSYNC_HTTP__MAX_BODY_BYTES": str(1024 * MIB),
        "MODELSYNC_HTTP__READ_TIMEOUT_S": "120",
        "MODELSYNC_HTTP__ATTEMPT_TIMEOUT_S": "600",
        "MODELSYNC_SCHEDULER__RUN_DEADLINE_S": "1800",
        "MODELSYNC_GUARD__MAX_MODELS": str(max_models),
        "NO_COLOR": "1",
    }


def report(name: str, peak: int, floor: int, models: int, outcome: str) -> None:
    above = peak - floor
    per_model = f"{above / models:7.0f} B/model above the floor" if models else ""
    print(
        f"  {name:<28} peak {peak / MIB:7.1f} MiB ({peak / MB:7.1f} MB)  "
        f"x{peak / floor:5.1f} of python3 -c pass  {per_model}  [{outcome}]"
    )


def outcome_of(code: int, tail: str) -> str:
    for word in ("changed", "unchanged", "rejected", "failed"):
        if f'"outcome":"{word}"' in tail.replace(" ", ""):
            return word
    return f"exit {code}"


def deep_size(value: object, seen: set[int]) -> int:
    """Bytes of ``value`` and everything it holds that was not counted yet (slots objects,
    containers, strings, numbers: what a memo is made of)."""
    if id(value) in seen:
        return 0
    seen.add(id(value))
    size = sys.getsizeof(value)
    if isinstance(value, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in value.items())
    elif isinstance(value, list | tuple | set | frozenset):
        size += sum(deep_size(item, seen) for item in value)
    elif hasattr(type(value), "__slots__"):
        for cls in type(value).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if hasattr(value, slot):
                    size += deep_size(getattr(value, slot), seen)
    return size


def rss_now() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def resident(count: int) -> None:
    """In a child: ``serve``'s runtime syncs ``count`` models; prints RSS growth and memo size.
    (Imported here: the parent stays small, or every child it forks would count its pages.)"""
    from modelsync.config import load_settings  # noqa: PLC0415
    from modelsync.runtime import open_runtime  # noqa: PLC0415
    from modelsync.sync.offload import Offload  # noqa: PLC0415

    offload = Offload()
    async with open_runtime(load_settings(), offload=offload) as runtime:
        gc.collect()
        before = rss_now()
        summary = await runtime.runner.run("bench")
        gc.collect()
        await asyncio.sleep(0.5)  # the offload gives freed heap back to the system meanwhile
        after = rss_now()
        memos = runtime.runner._memos  # what the runner keeps is the measurement
        kept = deep_size(memos, set())
        print(f"{summary.outcome.value} {before} {after} {kept}")
    offload.close()


def report_resident(count: int, line: str) -> None:
    outcome, before, after, kept = line.split()
    grown = int(after) - int(before)
    print(
        f"  {count:>9,} models  RSS +{grown / MIB:7.1f} MiB ({grown / count:6.0f} B/model)  "
        f"memo {int(kept) / MIB:6.1f} MiB ({int(kept) / count:5.0f} B/model kept between runs, "
        f"target < 2048)  [{outcome}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[5_000, 50_000, 300_000])
    parser.add_argument("--rejected", type=int, default=1_000_000)
    parser.add_argument("--resident", type=int, nargs="*", default=[5_000, 50_000])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--resident-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    if args.resident_child:
        asyncio.run(resident(args.resident_child))
        return
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as root, upstream() as base:
        folder = Path(root)
        floor, _, _ = peak_of([sys.executable, "-c", "pass"], dict(os.environ), folder)
        print("peak RSS of `modelsync sync bench` (one gateway, one page), this machine shared")
        report("python3 -c pass (floor)", floor, floor, 0, "-")
        command = [str(BIN / "modelsync"), "sync", "bench", "--json"]
        for size in args.sizes:
            case = folder / f"n{size}"
            case.mkdir()
            for label, generation in (("fresh", 0), ("steady (1% repriced)", 1)):
                url = f"{base}/full/{size}/{generation}/api/v1/models"
                env = sync_env(url, case, max(size, 100_000))
                peak, code, tail = peak_of(command, env, case)
                report(f"{size:,} models, {label}", peak, floor, size, outcome_of(code, tail))
        if args.rejected:
            case = folder / "rejected"
            case.mkdir()
            env = sync_env(f"{base}/tiny/{args.rejected}/0/api/v1/models", case, 100_000)
            peak, code, tail = peak_of(command, env, case)
            outcome = outcome_of(code, tail)
            report(f"{args.rejected:,} tiny, over the bound", peak, floor, 0, outcome)
            mb = len(tiny(args.rejected)) / MB
            verdict = "within" if peak < REJECTED_BUDGET and outcome == "rejected" else "OVER"
            print(f"  ({mb:.0f} MB body; {verdict} the 500 MB budget of the rejected path)")
        if args.resident:
            print("what `serve` keeps after syncing one gateway (runner memo; RSS after a collect)")
        for size in args.resident:
            case = folder / f"resident{size}"
            case.mkdir()
            env = sync_env(f"{base}/full/{size}/0/api/v1/models", case, max(size, 100_000))
            child = [sys.executable, __file__, "--resident-child", str(size)]
            done = subprocess.run(
                child, check=False, env=env, cwd=case, capture_output=True, text=True
            )
            lines = done.stdout.strip().splitlines()
            if done.returncode or not lines:
                print(f"  {size:>9,} models  failed: {done.stderr.strip()[-300:]}")
                continue
            report_resident(size, lines[-1])


if __name__ == "__main__":
    main()
