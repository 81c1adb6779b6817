"""A ``redis-server`` of a test's own on a free loopback port, which the test may stop and start
again (with its data saved, or lost): never the shared server on 6379."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from conftest import free_port


class RedisServer:
    """One ``redis-server`` process at a time on a fixed port and folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it (loading what a saving stop left in the folder) and wait until it answers."""
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.folder), "--logfile", "redis.log",
        ]  # fmt: skip
        self._process = subprocess.Popen(command, cwd=self.folder)
        deadline = time.monotonic() + 20
        while True:
            try:
                with redis.Redis(port=self.port, socket_timeout=2) as client:
                    if client.ping():
                        return
            except redis.RedisError:
                pass
            assert self._process.poll() is None, "redis-server stopped while starting"
            assert time.monotonic() < deadline, "redis-server did not answer within 20 s"
            time.sleep(0.05)

    def stop(self, *, save: bool) -> None:
        """``SHUTDOWN SAVE`` (its data back at the next start) or ``NOSAVE`` (lost)."""
        process, self._process = self._process, None
        if process is None:
            return
        with redis.Redis(port=self.port, socket_timeout=10) as client:
            client.shutdown(save=save, nosave=not save)  # returns once the server has gone
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def redis_server(folder: Path) -> Iterator[RedisServer]:
    """A started server of the test's own; stopped (its data lost) at the end."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (Debian package redis-server)")
    server = RedisServer(folder)
    server.start()
    try:
        yield server
    finally:
        process = server._process
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
