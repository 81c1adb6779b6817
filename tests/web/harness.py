"""The service under test: ``create_app`` on a real SQLite file, the simulator as its upstream.

The simulator app runs in process behind :class:`GatedTransport`, which can hold one gateway's
requests (a sync "in flight") until released. The app's own lifespan runs (``lifespan_context``),
so the store, runner, scheduler and webhook receiver are exactly what ``serve`` opens; the clock
is a :class:`~modelsync.clock.ManualClock`, so no scheduled sync fires unless a test moves it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from fastapi import FastAPI

from conftest import REDIS_URL, service_unavailable
from modelsync.cache.redis import RedisResponseCache
from modelsync.clock import ManualClock
from modelsync.config import Settings, load_settings
from modelsync.simulator import SimulatorConfig, create_simulator_app
from modelsync.simulator.state import SimulatorState
from modelsync.store.base import StoredRun, WebhookDelivery
from modelsync.web.app import create_app
from modelsync.web.services import Services
from modelsync.webhooks.signing import sign_hex, sign_standard

UPSTREAM = "http://sim"
ADMIN_TOKEN = "admin-token-for-tests-0123456789"
PLAIN_SECRET = "seed-secret-for-tests"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECRETS = f"{PLAIN_SECRET} {WHSEC}"
START = datetime(2026, 1, 1, tzinfo=UTC)
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
WEBHOOK = "/api/webhooks/models-updated"


class GatedTransport(httpx.AsyncBaseTransport):
    """The simulator app in process; a held gateway's requests wait until it is released."""

    def __init__(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._gates: dict[str, asyncio.Event] = {}
        self.requests: Counter[str] = Counter()
        self.waiting: Counter[str] = Counter()
        self.seen: list[httpx.Request] = []

    def hold(self, gateway: str) -> None:
        """Make the gateway's next requests wait."""
        self._gates[gateway] = asyncio.Event()

    def release(self, gateway: str) -> None:
        """Let the gateway's waiting and future requests through."""
        gate = self._gates.pop(gateway, None)
        if gate is not None:
            gate.set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        gateway = request.url.path.split("/")[1]
        self.requests[gateway] += 1
        self.seen.append(request)
        gate = self._gates.get(gateway)
        if gate is not None:
            self.waiting[gateway] += 1
            try:
                await gate.wait()
            finally:
                self.waiting[gateway] -= 1
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def eventually(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool], *, within_s: float = 5.0
) -> None:
    """Wait until ``check()`` is true (polled every 5 ms); fail after ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within_s} s")
        await asyncio.sleep(0.005)


def service_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings on a database in ``tmp_path``, the simulator upstream, one fetch attempt."""
    values: dict[str, Any] = {
        "upstream": UPSTREAM,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'service.db'}",
        "admin_token": ADMIN_TOKEN,
        "webhook_secret": SECRETS,
        "http": {"attempts": 1, "backoff_base_s": 0.0},
        # webhook hints start their verification sync at once (no debounce, no spacing)
        "scheduler": {"hint_debounce_s": 0.0, "hint_min_interval_s": 0.0},
    }
    values.update(overrides)
    return load_settings(**values)


def simulator_app() -> Any:
    """The simulator on its built-in catalogs, with a frozen clock (deterministic answers)."""
    return create_simulator_app(SimulatorConfig(use_fixtures=False, clock=ManualClock(START)))


@dataclass
class Service:
    """A running app, a client on it, its clock, and the simulator behind it."""

    app: FastAPI
    client: httpx.AsyncClient
    clock: ManualClock
    transport: GatedTransport
    simulator: SimulatorState

    @property
    def services(self) -> Services:
        """What the lifespan opened."""
        services: Services = self.app.state.services
        return services

    async def admin(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A request with the admin token (and any other ``headers``)."""
        headers = {**ADMIN, **kwargs.pop("headers", {})}
        return await self.client.request(method, url, headers=headers, **kwargs)

    async def sync(self, gateway: str = "all") -> dict[str, Any]:
        """``POST /api/sync/models`` and wait for it; the JSON report."""
        response = await self.admin("POST", "/api/sync/models", json={"gateway": gateway})
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        return report

    async def runs(self, gateway: str | None = None) -> list[StoredRun]:
        """Recorded runs, newest first."""
        return await self.services.runtime.store.list_runs(gateway=gateway, limit=1000)

    async def deliveries(self, count: int) -> list[WebhookDelivery]:
        """Wait until exactly ``count`` deliveries are stored (written behind); return them."""
        store = self.services.runtime.store
        await eventually(lambda: _counted(store.list_deliveries(limit=1000), count))
        await asyncio.sleep(0.02)  # and no more arrive
        found = await store.list_deliveries(limit=1000)
        assert len(found) == count, found
        return found

    async def idle(self) -> None:
        """Wait until no sync runs in this process."""
        await eventually(lambda: not self.services.scheduler.running())

    async def post_webhook(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST a raw body to the webhook route."""
        return await self.client.post(WEBHOOK, content=body, headers=headers)


async def _counted(found: Awaitable[list[Any]], count: int) -> bool:
    return len(await found) == count


@asynccontextmanager
async def open_service(
    tmp_path: Path,
    *,
    clock: ManualClock | None = None,
    run_scheduler: bool = True,
    **overrides: Any,
) -> AsyncIterator[Service]:
    """Run the app's lifespan with a client on it; everything closes on exit."""
    clock = clock or ManualClock(START)
    simulator = simulator_app()
    transport = GatedTransport(simulator)
    settings = service_settings(tmp_path, **overrides)
    app = create_app(settings, clock=clock, transport=transport, run_scheduler=run_scheduler)
    async with app.router.lifespan_context(app):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")
        async with client:
            yield Service(app, client, clock, transport, simulator.state.simulator)


@asynccontextmanager
async def open_redis_pair(tmp_path: Path) -> AsyncIterator[tuple[Service, Service]]:
    """Two services on one database and one Redis (``MODELSYNC_REDIS_URL``, a key prefix of
    their own, deleted afterwards), no scheduler; skipped locally (failed in CI) without Redis."""
    prefix = f"test:cache:{uuid.uuid4().hex}"
    options = {"redis_url": REDIS_URL, "cache": {"redis_prefix": prefix}}
    async with (
        open_service(tmp_path, run_scheduler=False, **options) as one,
        open_service(tmp_path, run_scheduler=False, **options) as other,
    ):
        backend = other.services.cache.backend
        assert isinstance(backend, RedisResponseCache)
        assert isinstance(one.services.cache.backend, RedisResponseCache)
        try:
            await backend.generation()
        except Exception as exc:  # noqa: BLE001
            service_unavailable("Redis", exc)
        try:
            yield one, other
        finally:
            await backend.drop_all()


# -- webhook bodies and signatures -----------------------------------------------------------


def now_ms(clock: ManualClock) -> int:
    """The clock's time in milliseconds (the payload's ``timestamp``)."""
    return int(clock.now().timestamp() * 1000)


def event(
    clock: ManualClock,
    *,
    gateway: str = "groq",
    event_type: str = "models.updated",
    models: tuple[str, ...] = ("groq/compound",),
    offset_s: float = 0.0,
) -> dict[str, Any]:
    """One webhook event stamped ``offset_s`` from the clock's now."""
    return {
        "gateway": gateway,
        "event_type": event_type,
        "models": [{"id": model_id, "name": model_id.upper()} for model_id in models],
        "timestamp": now_ms(clock) + int(offset_s * 1000),
    }


def body_of(document: Any) -> bytes:
    """The exact bytes that are signed and sent."""
    return orjson.dumps(document)


def seed_headers(body: bytes, *, secret: str = PLAIN_SECRET) -> dict[str, str]:
    """``X-Webhook-Signature: sha256=<hex>`` headers for ``body``."""
    return {"content-type": "application/json", "x-webhook-signature": sign_hex(secret, body)}


def standard_headers(
    body: bytes,
    clock: ManualClock,
    *,
    secret: str = WHSEC,
    msg_id: str = "msg_1",
    offset_s: int = 0,
    signature: str | None = None,
) -> dict[str, str]:
    """Standard Webhooks headers for ``body`` at the clock's now plus ``offset_s``."""
    stamp = int(clock.now().timestamp()) + offset_s
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature or sign_standard(secret, msg_id, stamp, body),
    }
