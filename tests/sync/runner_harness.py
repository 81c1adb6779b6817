"""A SyncRunner on a real SQLite file and the simulator app, for the runner tests.

The runner is built as the composition root builds it (``resolve_gateways`` from Settings with
``upstream`` set, a real ``Fetcher`` on a client from ``build_client``), except that the client's
transport is the simulator app in process (``httpx.ASGITransport``), and the lease wait, owner
and fetch policy are chosen per test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from modelsync.clock import Clock, ManualClock, SystemClock
from modelsync.config import ResolvedGateway, Settings, resolve_gateways
from modelsync.domain import ModelStatus
from modelsync.fetch import Fetcher, FetchPolicy, build_client
from modelsync.guard import GuardPolicy
from modelsync.identity import NO_OVERRIDES, IdentityOverrides
from modelsync.runtime import registrations
from modelsync.simulator import SimulatorConfig, create_simulator_app
from modelsync.store.base import ModelQuery, StoredModel
from modelsync.store.sql import SqlStore
from modelsync.sync.runner import SyncRunner

UPSTREAM = "http://sim"
POLICY = FetchPolicy(connect_timeout_s=2.0, read_timeout_s=5.0, attempts=1, backoff_base_s=0.0)


def simulator_app(*, etag: bool = True) -> Starlette:
    """The simulator on its built-in catalogs, with a frozen clock (deterministic answers)."""
    return create_simulator_app(SimulatorConfig(use_fixtures=False, clock=ManualClock(), etag=etag))


def gateways_for(upstream: str | None) -> dict[str, ResolvedGateway]:
    """Every shipped gateway resolved as production does (no keys; placeholders with upstream)."""
    return resolve_gateways(Settings(upstream=upstream, database_url="sqlite+aiosqlite://"))


@dataclass
class Harness:
    """The simulator app, a client on it, a database file, and the stores opened on it."""

    app: Starlette
    db_path: Path
    stack: AsyncExitStack
    client: httpx.AsyncClient = field(init=False)
    admin: httpx.AsyncClient = field(init=False)
    stores: list[SqlStore] = field(default_factory=list)

    async def start(self) -> None:
        """Open the client the runners fetch with and the admin client."""
        transport = httpx.ASGITransport(app=self.app)
        self.client = await self.stack.enter_async_context(
            build_client(POLICY, transport=transport)
        )
        admin = httpx.AsyncClient(transport=transport, base_url=UPSTREAM)
        self.admin = await self.stack.enter_async_context(admin)

    @property
    def url(self) -> str:
        """The database's URL."""
        return f"sqlite+aiosqlite:///{self.db_path}"

    async def open_store(self, kind: type[SqlStore] = SqlStore) -> SqlStore:
        """Another store on the same file (another process, as far as it knows)."""
        store = kind(self.url)
        await store.open()
        self.stack.push_async_callback(store.close)
        self.stores.append(store)
        return store

    async def runner(
        self,
        *,
        store: SqlStore | None = None,
        upstream: str | None = UPSTREAM,
        owner: str = "runner-a",
        lease_wait_s: float = 1.0,
        clock: Clock | None = None,
        identity: IdentityOverrides = NO_OVERRIDES,
        lease_ttl_s: float = 30.0,
        run_deadline_s: float = 300.0,
        policy: FetchPolicy = POLICY,
        guard: GuardPolicy | None = None,
    ) -> SyncRunner:
        """A runner (on a new store unless one is given) with the gateways registered."""
        store = store or await self.open_store()
        gateways = gateways_for(upstream)
        await store.register_gateways(registrations(gateways))
        return SyncRunner(
            store=store,
            fetcher=Fetcher(self.client, policy),
            gateways=gateways,
            guard=guard or GuardPolicy(),
            clock=clock or SystemClock(),
            owner=owner,
            upstream=upstream,
            lease_ttl_s=lease_ttl_s,
            lease_wait_s=lease_wait_s,
            identity=identity,
            run_deadline_s=run_deadline_s,
        )

    async def admin_call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One admin API call on the simulator; fails the test unless it answers 200."""
        response = await self.admin.request(method, path, **kwargs)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def mutate(self, **payload: Any) -> dict[str, Any]:
        """``POST /_admin/mutate``."""
        return await self.admin_call("POST", "/_admin/mutate", json=payload)

    async def fault(self, **payload: Any) -> dict[str, Any]:
        """``POST /_admin/fault``."""
        return await self.admin_call("POST", "/_admin/fault", json=payload)


@asynccontextmanager
async def open_harness(tmp_path: Path, *, etag: bool = True) -> AsyncIterator[Harness]:
    """A started harness, closed when the generator is."""
    async with AsyncExitStack() as stack:
        harness = Harness(simulator_app(etag=etag), tmp_path / "modelsync.db", stack)
        await harness.start()
        yield harness


async def models_of(store: SqlStore, gateway: str) -> dict[str, StoredModel]:
    """Every stored model of a gateway (removed ones too), by gateway model id."""
    found = await store.list_models(ModelQuery(gateway=gateway, include_removed=True, limit=10_000))
    return {item.model.gateway_model_id: item for item in found}


async def statuses_of(store: SqlStore, gateway: str) -> dict[str, ModelStatus]:
    """Each stored model's served status."""
    return {key: item.status for key, item in (await models_of(store, gateway)).items()}
