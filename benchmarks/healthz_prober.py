"""Sends ``GET /healthz`` back to back (5 ms apart) on one keep-alive connection for a while and
prints ``<CLOCK_MONOTONIC start> <latency s>`` per answer: run as a process of its own, so its
timing never waits on the measured process's GIL (bench_loop, tests/web/test_loop_stall.py).

    python benchmarks/healthz_prober.py HOST PORT SECONDS
"""

from __future__ import annotations

import http.client
import sys
import time


def main() -> None:
    host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    connection = http.client.HTTPConnection(host, port, timeout=30)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        began = time.monotonic()
        try:
            connection.request("GET", "/healthz")
            connection.getresponse().read()
        except (ConnectionError, http.client.HTTPException):  # a kept-alive one was closed
            connection.close()
            continue
        print(f"{began:.6f} {time.monotonic() - began:.6f}", flush=True)
        time.sleep(0.005)


if __name__ == "__main__":
    main()
