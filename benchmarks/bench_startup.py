"""Start-up cost of the command line against ``python3 -c pass``, measured in the same run
(issue 12 item 5): ``modelsync --help``, ``modelsync --version`` (targets under 8x) and
``modelsync status`` on a SQLite database whose gateways are registered (target under 30x).

Each command runs ``--runs`` times, interleaved with the others (so the machine's load weighs on
all alike); the fastest run of each is compared, by wall time and by CPU time (user + system of
the child): on a loaded machine a longer command waits for a core more often than a short one,
so the CPU ratio is the fairer of the two there.

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


def timed(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``args``."""
    began = time.perf_counter()
    child = subprocess.Popen(
        args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0, (args, child.returncode)
    return time.perf_counter() - began, usage.ru_utime + usage.ru_stime


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
        wall = dict.fromkeys(commands, float("inf"))
        cpu = dict.fromkeys(commands, float("inf"))
        load = os.getloadavg()[0]
        for _ in range(args.runs):
            for name, command in commands.items():
                seconds, used = timed(command, env, folder)
                wall[name], cpu[name] = min(wall[name], seconds), min(cpu[name], used)
    floor, floor_cpu = wall.pop("python3 -c pass"), cpu.pop("python3 -c pass")
    print(f"modelsync start-up, fastest of {args.runs} interleaved runs; load {load:.1f}")
    print(f"  {'python3 -c pass':<18} {floor * 1000:7.1f} ms wall {floor_cpu * 1000:6.1f} ms CPU")
    for name, seconds in wall.items():
        ratio, cpu_ratio = seconds / floor, cpu[name] / floor_cpu
        verdict = "ok" if min(ratio, cpu_ratio) < TARGETS[name] else "OVER"
        print(
            f"  modelsync {name:<8} {seconds * 1000:7.1f} ms wall x{ratio:5.1f}  "
            f"{cpu[name] * 1000:6.1f} ms CPU x{cpu_ratio:5.1f}  of python3 -c pass"
            f"  (target < {TARGETS[name]:.0f}x: {verdict})"
        )


if __name__ == "__main__":
    main()
