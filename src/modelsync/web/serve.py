"""``modelsync serve``: the service under uvicorn, and ``--demo`` with the simulator beside it.

The demo runs both servers in one process and one event loop: the simulator plays every gateway
(no keys, no network), mutates its catalogs every few seconds and sends a signed webhook for each
change; the service polls on short intervals and takes the webhooks, so new models and price
changes show within seconds.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

import structlog
import uvicorn
from fastapi import FastAPI
from rich.console import Console

from modelsync.config import Settings, load_settings
from modelsync.domain import Tier
from modelsync.errors import ConfigError, ModelsyncError
from modelsync.listen import listen_socket, listening, local_host
from modelsync.observability import configure_logging
from modelsync.simulator import SimulatorConfig, build_server
from modelsync.simulator.sender import WebhookTarget
from modelsync.store import create_store
from modelsync.store.engine import database_url
from modelsync.store.opening import open_waiting, where
from modelsync.web.app import create_app
from modelsync.web.protocol import bounded_protocol

log = structlog.get_logger("modelsync.web")

DEMO_INTERVALS_S = {Tier.HIGH: 20, Tier.MEDIUM: 30, Tier.LOW: 45}
DEMO_DATABASE = "sqlite+aiosqlite:///./modelsync-demo.db"


@dataclass(frozen=True, slots=True)
class DemoPlan:
    settings: Settings
    simulator: SimulatorConfig
    admin_token: str


def demo_plan(host: str, port: int, simulator_port: int, *, database_url: str | None) -> DemoPlan:
    """Settings that point the service at the simulator, with short intervals and fresh secrets."""
    admin_token = secrets.token_urlsafe(24)
    webhook_secret = "whsec_" + secrets.token_urlsafe(32).replace("-", "+").replace("_", "/")
    settings = load_settings(
        upstream=f"http://127.0.0.1:{simulator_port}",
        database_url=database_url or DEMO_DATABASE,
        admin_token=admin_token,
        webhook_secret=_padded(webhook_secret),
        scheduler={"intervals_s": DEMO_INTERVALS_S},
        references={name: {"enabled": True, "interval_s": 60} for name in ("litellm", "modelsdev")},
    )
    target = WebhookTarget(
        f"http://{local_host(host)}:{port}/api/webhooks/models-updated", _padded(webhook_secret)
    )
    return DemoPlan(settings, SimulatorConfig(demo=True, webhook=target), admin_token)


def _padded(secret: str) -> str:
    body = secret.removeprefix("whsec_")
    return "whsec_" + body + "=" * (-len(body) % 4)


def demo_cli_url(url: str) -> str:
    """The demo database's URL as another shell in another folder must give it (a relative
    SQLite path made absolute), for the banner's ``modelsync status`` line."""
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        parsed = parsed.set(database=str(Path(parsed.database or "").resolve()))
    return parsed.render_as_string(hide_password=True)


def server_config(
    app: FastAPI, host: str, port: int, settings: Settings, *, log_level: str = "warning"
) -> uvicorn.Config:
    """uvicorn as ``serve`` runs it: the bounded protocol (:mod:`modelsync.web.protocol`)."""
    server = settings.server
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        http=bounded_protocol(server),
        timeout_keep_alive=server.keep_alive_s,
    )


async def check_database(settings: Settings) -> None:
    """Open the database once before the service starts (and close it): its problems are one
    line here, not a traceback from the server's start-up. One that does not answer yet is
    waited for up to ``database_wait_s``, a log line per attempt."""
    url = database_url(settings.database_url)
    store = create_store(settings.database_url)

    async def attempt() -> None:
        await store.open()
        await store.close()

    await open_waiting(attempt, wait_s=settings.database_wait_s, what=where(url))


def _run_server(server: uvicorn.Server, sock: socket.socket) -> None:
    with sock:
        server.run(sockets=[sock])
    if not server.started:
        raise ModelsyncError("the service did not start (its log above says why)")


async def _serve_both(
    service: uvicorn.Server, simulator: uvicorn.Server, sockets: list[socket.socket]
) -> None:
    simulator_socket, service_socket = sockets
    tasks = [
        asyncio.create_task(simulator.serve(sockets=[simulator_socket])),
        asyncio.create_task(service.serve(sockets=[service_socket])),
    ]
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    service.should_exit = simulator.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()


def serve_demo(host: str, port: int, simulator_port: int, *, database_url: str | None) -> None:
    """Blocking: the simulator and the service together until Ctrl-C. Both ports are taken and
    the database opened before the banner: a busy port or a bad database is one line, no banner."""
    plan = demo_plan(host, port, simulator_port, database_url=database_url)
    level = plan.settings.log_level or "INFO"
    configure_logging(level)
    simulator_socket = listen_socket(
        "127.0.0.1", simulator_port, what="the demo's simulator", option="--simulator-port"
    )
    try:
        service_socket = listen_socket(host, port, what="the service", option="--port")
    except ConfigError:
        simulator_socket.close()
        raise
    with simulator_socket, service_socket:
        asyncio.run(check_database(plan.settings))
        console = Console(stderr=True)
        base = f"http://{local_host(host)}:{service_socket.getsockname()[1]}"
        console.print(
            f"[bold]modelsync demo[/]: the simulator plays every gateway on "
            f"http://127.0.0.1:{simulator_socket.getsockname()[1]}, the service listens on {base}\n"
            f"  status   {base}/api/sync/status\n"
            f"  changes  {base}/api/changes\n"
            f"  models   {base}/api/models\n"
            f"  API docs {base}/docs\n"
            f"  admin    Authorization: Bearer {plan.admin_token}\n"
            f"  CLI      MODELSYNC_DATABASE_URL={demo_cli_url(plan.settings.database_url)} "
            "modelsync status   (or changes --last 20)\n"
            "New models, price changes, renames and removals arrive every few seconds. "
            "Ctrl-C stops.",
            highlight=False,
            soft_wrap=True,  # never wrapped: each line can be copied whole
        )
        simulator = build_server("127.0.0.1", simulator_port, plan.simulator)
        service = uvicorn.Server(
            server_config(create_app(plan.settings), host, port, plan.settings)
        )
        asyncio.run(_serve_both(service, simulator, [simulator_socket, service_socket]))
    if not service.started:
        raise ModelsyncError("the service did not start (its log above says why)")


def serve(host: str, port: int) -> None:
    """Blocking: the service from the environment's settings."""
    settings = load_settings()
    configure_logging(settings.log_level or "INFO")
    sock = listen_socket(host, port, what="the service", option="--port")
    try:
        asyncio.run(check_database(settings))
    except BaseException:
        sock.close()
        raise
    if settings.admin_token is None:
        log.warning(
            "admin_routes_disabled",
            reason="MODELSYNC_ADMIN_TOKEN is not set (or blank): admin routes answer 403; "
            "set it to a long random value to enable them",
        )
    server = uvicorn.Server(server_config(create_app(settings), host, port, settings))
    listening(Console(stderr=True), "modelsync serve:", host, sock)
    _run_server(server, sock)
