"""A real ``modelsync serve`` process, for tests that kill it, restart it or watch it from outside.

It runs with a clean environment (no setting and no gateway key of the developer's shell) plus
the settings a test gives, logs to a file in the test's folder, and is up once ``/healthz``
answers. :func:`simulator` serves the gateway simulator in a thread, as the service's upstream.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn

from conftest import free_port, serving
from modelsync.gateways.registry import BUILTIN
from modelsync.simulator import SimulatorConfig, create_simulator_app

BIN = Path(sys.executable).parent
KEY_VARIABLES = {spec.key_env for spec in BUILTIN if spec.key_env}


def clean_environment(**settings: str) -> dict[str, str]:
    """No modelsync setting, no gateway key (a new user's shell), then ``settings``."""
    return (
        {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("MODELSYNC_") and name not in KEY_VARIABLES
        }
        | {"MODELSYNC_SIMULATOR_FIXTURES": "none"}
        | settings
    )


def wait_for(check: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    """Poll ``check`` every 50 ms until it holds; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what} within {timeout_s} s"
        time.sleep(0.05)


@dataclass
class ServeProcess:
    """A running ``modelsync serve``: its process, base URL and log."""

    process: subprocess.Popen[bytes]
    base: str
    log_path: Path

    def log(self) -> str:
        """Everything it printed so far."""
        return self.log_path.read_text(errors="replace")

    def answers(self) -> bool:
        """Whether ``/healthz`` answers 200 (fails at once if the process died)."""
        assert self.process.poll() is None, self.log()
        try:
            return httpx.get(self.base + "/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM and wait; SIGKILL if it does not stop within 20 s."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


@contextmanager
def serve_process(
    folder: Path, env: dict[str, str], *, port: int | None = None, wait: bool = True
) -> Iterator[ServeProcess]:
    """``modelsync serve`` on a free port with ``env`` (see :func:`clean_environment`)."""
    port = port or free_port()
    log_path = folder / f"serve-{port}-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(BIN / "modelsync"), "serve", "--port", str(port)],
            cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    served = ServeProcess(process, f"http://127.0.0.1:{port}", log_path)
    try:
        if wait:
            wait_for(served.answers, timeout_s=30, what="modelsync serve answers /healthz")
        yield served
    finally:
        served.stop()


@contextmanager
def simulator() -> Iterator[str]:
    """The gateway simulator on its built-in catalogs, in a thread; its base URL."""
    app = create_simulator_app(SimulatorConfig(use_fixtures=False))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    with serving(server) as base:
        yield base


def sim_admin(upstream: str, path: str, body: dict[str, Any] | None = None) -> None:
    """``POST`` to the simulator's ``/_admin`` (a mutation, a fault, a reset)."""
    response = httpx.post(upstream + path, json=body, timeout=5)
    assert response.status_code == 200, response.text


def cli_sync(
    upstream: str, database: str, folder: Path, gateway: str, *, exit_codes: tuple[int, ...] = (0,)
) -> dict[str, Any]:
    """``modelsync sync <gateway> --json`` in a process of its own (one attempt per request);
    its report, once its exit code is one of ``exit_codes``."""
    env = clean_environment(
        MODELSYNC_UPSTREAM=upstream, MODELSYNC_DATABASE_URL=database, MODELSYNC_HTTP__ATTEMPTS="1"
    )
    done = subprocess.run(
        [str(BIN / "modelsync"), "sync", gateway, "--json"],
        cwd=folder, env=env, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode in exit_codes, done.stderr.decode()
    report: dict[str, Any] = orjson.loads(done.stdout)
    return report
