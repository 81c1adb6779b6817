"""Peak RSS of ``modelsync sync all`` against the simulator, next to the 150 MB budget.

Starts ``modelsync simulate`` on a free port (seeded from the recorded fixtures when they are
there), then, ``--repeat`` times, runs the real console script ``modelsync sync all`` as a child
with ``MODELSYNC_UPSTREAM`` and a new SQLite database: once on the fresh database (every gateway
added) and once more on the same database (already synced: every gateway answers 304). Each
child's peak RSS is its own ``ru_maxrss``, read with ``os.wait4`` when it exits (per child, not the
running maximum ``RUSAGE_CHILDREN`` keeps). Prints median, min and max per case and the ratio of
the median to the budget; exits 1 when a median is over it.

    python benchmarks/bench_rss.py [--repeat 5] [--fixtures ../shared/fixtures] [--budget-mb 150]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent
MB = 1_000_000
"""A megabyte as the budget counts it (decimal: the stricter reading of "150 MB")."""
MIB = 1024 * 1024
CASES = ("fresh database", "second run (synced)")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def clean_environment() -> dict[str, str]:
    """This environment without modelsync settings (the bench sets its own)."""
    return {name: value for name, value in os.environ.items() if not name.startswith("MODELSYNC_")}


def start_simulator(port: int, fixtures: Path | None, log: Path) -> subprocess.Popen[bytes]:
    """``modelsync simulate`` on ``port``; returns once it answers."""
    args = [str(BIN / "modelsync"), "simulate", "--port", str(port)]
    env = clean_environment()
    if fixtures is not None:
        args += ["--fixtures", str(fixtures)]
    else:
        env["MODELSYNC_SIMULATOR_FIXTURES"] = "none"
    with log.open("wb") as out:
        process = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            sys.exit(f"the simulator exited:\n{log.read_text()}")
        if time.monotonic() > deadline:
            process.kill()
            sys.exit("the simulator did not answer within 30 s")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.05)


def sync_all(upstream: str, database: Path, workdir: Path) -> tuple[int, str]:
    """Run ``modelsync sync all`` to the end; its peak RSS in bytes and its last output line."""
    env = clean_environment() | {
        "MODELSYNC_UPSTREAM": upstream,
        "MODELSYNC_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "NO_COLOR": "1",
    }
    output = workdir / "sync.out"
    with output.open("wb") as out:
        child = subprocess.Popen(
            [str(BIN / "modelsync"), "sync", "all"],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    text = output.read_text()
    if child.returncode != 0:
        sys.exit(f"modelsync sync all exited {child.returncode}:\n{text}")
    return usage.ru_maxrss * 1024, text.strip().splitlines()[-1]  # ru_maxrss is in KiB on Linux


def report(name: str, peaks: list[int], budget: int) -> bool:
    """Print one case's figures; ``True`` when its median is within the budget."""
    median = statistics.median(peaks)
    print(
        f"  {name:<20} median {median / MIB:6.1f} MiB ({median / MB:6.1f} MB)   "
        f"min {min(peaks) / MIB:6.1f} MiB   max {max(peaks) / MIB:6.1f} MiB   "
        f"ratio to budget {median / budget:.2f}"
    )
    return median <= budget


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--fixtures",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared" / "fixtures",
        help="the recorded fixtures folder (the built-in catalogs when it is absent)",
    )
    parser.add_argument("--budget-mb", type=float, default=150.0)
    args = parser.parse_args()
    fixtures = args.fixtures if (args.fixtures / "providers").is_dir() else None
    budget = int(args.budget_mb * MB)
    peaks: dict[str, list[int]] = {case: [] for case in CASES}
    lines: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-rss-") as folder:
        root = Path(folder)
        port = free_port()
        simulator = start_simulator(port, fixtures, root / "simulator.log")
        try:
            upstream = f"http://127.0.0.1:{port}"
            for run in range(args.repeat):
                workdir = root / f"run-{run}"
                workdir.mkdir()
                database = workdir / "modelsync.db"
                for case in CASES:
                    peak, lines[case] = sync_all(upstream, database, workdir)
                    peaks[case].append(peak)
        finally:
            simulator.terminate()
            simulator.wait(timeout=10)
    seeded = f"recorded fixtures in {fixtures}" if fixtures else "built-in catalogs"
    print(f"peak RSS of `modelsync sync all`, {args.repeat} runs each, simulator on {seeded}")
    print(f"budget {args.budget_mb:g} MB = {budget / MIB:.1f} MiB")
    within = [report(case, peaks[case], budget) for case in CASES]
    for case in CASES:
        print(f"  {case:<20} last run: {lines[case]}")
    if not all(within):
        sys.exit(1)


if __name__ == "__main__":
    main()
