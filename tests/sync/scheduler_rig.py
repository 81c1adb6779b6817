"""A rig for the scheduler tests: a real SQLite file, the simulator in process, a frozen clock.

The runtime is opened as the service opens it (``open_runtime``); schedulers are built on it
with a fast tick (10 ms of real time), so the loop notices at once when a test moves the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelsync.clock import ManualClock
from modelsync.config import Settings, load_settings
from modelsync.errors import StoreError
from modelsync.fetch import Fetcher, FetchPolicy
from modelsync.guard import GuardPolicy
from modelsync.runtime import Runtime, open_runtime
from modelsync.simulator.faults import parse_fault
from modelsync.simulator.state import SimulatorState
from modelsync.store.base import GatewayState, LeaseGrant, RunRecord, StoredRun
from modelsync.store.sql import SqlStore
from modelsync.sync.runner import SyncRunner
from modelsync.sync.schedule import SchedulePolicy
from modelsync.sync.scheduler import Scheduler
from web.harness import START, UPSTREAM, GatedTransport, simulator_app

GATEWAYS = 13


class FlakyStore(SqlStore):
    """A SqlStore whose ``claim_due`` and ``finish_run`` fail the first N times they are called."""

    def __init__(self, url: str, *, claim_failures: int = 0, finish_failures: int = 0) -> None:
        super().__init__(url)
        self.claim_failures = claim_failures
        self.finish_failures = finish_failures

    async def claim_due(self, owner: str, **options: Any) -> list[LeaseGrant]:
        if self.claim_failures:
            self.claim_failures -= 1
            raise StoreError("cannot claim due gateways: database is locked (injected)")
        return await super().claim_due(owner, **options)

    async def finish_run(self, run: RunRecord, *args: Any, **kwargs: Any) -> Any:
        if self.finish_failures:
            self.finish_failures -= 1
            raise StoreError("cannot record the run: disk I/O error (injected)")
        return await super().finish_run(run, *args, **kwargs)


class ExplodingRunner(SyncRunner):
    """A runner whose ``run`` raises for the gateways in ``explode`` (once each)."""

    explode: set[str]

    async def run(self, name: str, **options: Any) -> Any:
        if name in self.explode:
            self.explode.discard(name)
            raise RuntimeError(f"boom in {name}")
        return await super().run(name, **options)


@dataclass
class Rig:
    """The simulator, a transport that can hold gateways, a clock, and runtimes on one file."""

    tmp_path: Path
    stack: AsyncExitStack
    clock: ManualClock = field(default_factory=lambda: ManualClock(START))
    transport: GatedTransport = field(init=False)
    simulator: SimulatorState = field(init=False)
    schedulers: list[Scheduler] = field(default_factory=list)

    def __post_init__(self) -> None:
        app = simulator_app()
        self.transport = GatedTransport(app)
        self.simulator = app.state.simulator

    @property
    def settings(self) -> Settings:
        return load_settings(
            upstream=UPSTREAM,
            database_url=f"sqlite+aiosqlite:///{self.tmp_path / 'scheduler.db'}",
            http={"attempts": 1, "backoff_base_s": 0.0},
        )

    async def runtime(self, *, store: SqlStore | None = None) -> Runtime:
        """A runtime (store, client, runner) on the rig's database; closed with the rig."""
        if store is not None:
            await store.open()
            self.stack.push_async_callback(store.close)
        opened = open_runtime(
            self.settings, clock=self.clock, transport=self.transport, store=store
        )
        return await self.stack.enter_async_context(opened)

    def exploding_runner(self, runtime: Runtime, explode: set[str]) -> ExplodingRunner:
        """A runner like ``runtime.runner`` that raises once for each gateway in ``explode``."""
        runner = ExplodingRunner(
            store=runtime.store,
            fetcher=Fetcher(runtime.client, FetchPolicy.from_settings(self.settings.http)),
            gateways=runtime.gateways,
            guard=GuardPolicy(),
            clock=self.clock,
            owner=runtime.owner,
            upstream=UPSTREAM,
        )
        runner.explode = set(explode)
        return runner

    def scheduler(
        self,
        runtime: Runtime,
        *,
        rng: Callable[[], float] = lambda: 0.5,
        runner: SyncRunner | None = None,
        **policy: Any,
    ) -> Scheduler:
        """A scheduler on ``runtime`` with a 10 ms tick; stopped with the rig. First runs
        spread over 30 s unless ``first_run_window_s`` says otherwise."""
        policy.setdefault("first_run_window_s", 30.0)
        scheduler = Scheduler(
            runner=runner or runtime.runner,
            store=runtime.store,
            policy=SchedulePolicy(**policy),
            clock=self.clock,
            owner=runtime.owner,
            rng=rng,
            tick_s=0.01,
        )
        self.schedulers.append(scheduler)
        return scheduler

    def fail(self, gateway: str, kind: str = "http_500", **fault: Any) -> None:
        """Inject a fault into the simulated gateway (forever unless ``times`` is given)."""
        state = self.simulator.gateway(gateway)
        state.faults.append(parse_fault({"kind": kind, **fault}, gateway=gateway))

    def heal(self, gateway: str) -> None:
        """Clear the gateway's faults."""
        self.simulator.gateway(gateway).faults.clear()

    async def aclose(self) -> None:
        for scheduler in self.schedulers:
            await scheduler.stop(grace_s=1.0)
        await self.stack.aclose()


async def states(runtime: Runtime, *names: str) -> dict[str, GatewayState]:
    """Gateway rows by name (all, or these)."""
    found = await runtime.store.gateway_states(list(names) or None)
    return {state.name: state for state in found}


async def runs_of(runtime: Runtime, gateway: str | None = None) -> list[StoredRun]:
    """Recorded runs, oldest first."""
    return list(reversed(await runtime.store.list_runs(gateway=gateway, limit=1000)))
