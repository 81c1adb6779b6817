"""Running the simulator under uvicorn: the entry points the CLI calls."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import uvicorn
from rich.console import Console

from modelsync.listen import listen_socket, listening
from modelsync.simulator.app import create_simulator_app
from modelsync.simulator.config import SimulatorConfig
from modelsync.simulator.script import Step, load_script


def build_server(host: str, port: int, config: SimulatorConfig) -> uvicorn.Server:
    """A uvicorn server for the simulator (``serve()`` it; set ``should_exit`` to stop it)."""
    app = create_simulator_app(config)
    settings = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="on", access_log=False
    )
    return uvicorn.Server(settings)


async def run_simulator(host: str, port: int, config: SimulatorConfig) -> None:
    """Serve the simulator on ``host:port`` until the process is told to stop."""
    await build_server(host, port, config).serve()


def serve_simulator(
    host: str = "127.0.0.1",
    port: int = 8900,
    *,
    fixtures_dir: Path | None = None,
    script: Path | str | Sequence[Step] | None = None,
    demo: bool = False,
) -> None:
    """Blocking: serve the simulator; ``script`` is a JSON steps file or the steps themselves."""
    steps = load_script(script) if isinstance(script, (str, Path)) else tuple(script or ())
    config = SimulatorConfig(fixtures_dir=fixtures_dir, script=steps, demo=demo)
    sock = listen_socket(host, port, what="the simulator", option="--port")
    with sock:
        listening(Console(stderr=True), "modelsync simulate:", host, sock)
        asyncio.run(build_server(host, port, config).serve(sockets=[sock]))
