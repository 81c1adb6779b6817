"""Start-up cost of the command line against ``python3 -c pass``, measured in the same run
(issue 12 item 5): ``modelsync --help``, ``modelsync --version`` (targets under 8x) and
``modelsync status`` on a SQLite database whose gateways are registered (target under 30x).

Each command runs ``--runs`` times, interleaved with the others (so the machine's load weighs on
all alike); the fastest run of each is compared.

    python benchmarks/bench_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
TARGETS = {"--help": 8.0, "--version": 8.0, "status": 30.0}


def timed(args: list[str], env: dict[str, str], cwd: Path) -> float:
    began = time.perf_counter()
    subprocess.run(args, env=env, cwd=cwd, capture_output=True, check=True, timeout=120)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as root:
        folder = Path(root)
        clean = {k: v for k, v in os.environ.items() if not k.startswith("MODELSYNC_")}
        env = clean | {"MODELSYNC_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'b.db'}"}
        modelsync = str(BIN / "modelsync")
        subprocess.run([modelsync, "status"], env=env, cwd=folder, capture_output=True, check=True)
        commands = {
            "python3 -c pass": [sys.executable, "-c", "pass"],
            "--help": [modelsync, "--help"],
            "--version": [modelsync, "--version"],
            "status": [modelsync, "status"],
        }
        best = dict.fromkeys(commands, float("inf"))
        load = os.getloadavg()[0]
        for _ in range(args.runs):
            for name, command in commands.items():
                best[name] = min(best[name], timed(command, env, folder))
    floor = best.pop("python3 -c pass")
    print(f"modelsync start-up, fastest of {args.runs} interleaved runs; load {load:.1f}")
    print(f"  {'python3 -c pass':<18} {floor * 1000:7.1f} ms")
    for name, seconds in best.items():
        ratio = seconds / floor
        verdict = "ok" if ratio < TARGETS[name] else "OVER"
        print(
            f"  modelsync {name:<8} {seconds * 1000:7.1f} ms  x{ratio:5.1f} of python3 -c pass"
            f"  (target < {TARGETS[name]:.0f}x: {verdict})"
        )


if __name__ == "__main__":
    main()
