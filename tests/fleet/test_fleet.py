"""Three real ``modelsync serve`` processes on one PostgreSQL database (issue 11 items 1-3):
every gateway runs once per round whichever process takes it; a SIGKILLed process's gateways go
on running on the others within the lease time, and it drops off the registry; a webhook
replayed to a second process is a duplicate there and its verification sync runs once."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest

from modelsync.domain import ChangeSource
from modelsync.gateways.registry import BUILTIN
from modelsync.store.base import StoredRun
from modelsync.store.sql import SqlStore
from modelsync.webhooks.signing import sign_hex
from service_process import ServeProcess, clean_environment, serve_process, simulator, wait_for
from store.conftest import private_database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

GATEWAYS = ("groq", "cerebras", "xai", "nebius")
INTERVAL_S = 10
LEASE_S = 4
ADMIN = "fleet-admin-token-0123456789abcdef"
SECRET = "fleet-webhook-secret-0123456789"


def fleet_config(folder: Path) -> Path:
    """Four gateways every 10 s, the other shipped ones off."""
    lines = []
    for spec in BUILTIN:
        lines.append(f"[gateways.{spec.name}]")
        if spec.name in GATEWAYS:
            lines.append(f"interval_s = {INTERVAL_S}")
        else:
            lines.append("enabled = false")
    path = folder / "fleet.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def fleet_env(database: str, upstream: str, config: Path) -> dict[str, str]:
    return clean_environment(
        MODELSYNC_DATABASE_URL=database,
        MODELSYNC_UPSTREAM=upstream,
        MODELSYNC_CONFIG_FILE=str(config),
        MODELSYNC_ADMIN_TOKEN=ADMIN,
        MODEL_WEBHOOK_SECRET=SECRET,
        MODELSYNC_SCHEDULER__LEASE_TTL_S=str(LEASE_S),
        MODELSYNC_SCHEDULER__HINT_DEBOUNCE_S="0.5",
        MODELSYNC_PROCESS__HEARTBEAT_S="1",
        MODELSYNC_PROCESS__EXPIRE_AFTER_S="4",
        MODELSYNC_HTTP__ATTEMPTS="1",
    )


async def _runs(database: str) -> list[StoredRun]:
    store = SqlStore(database)
    await store.open()
    try:
        return await store.list_runs(limit=10_000)
    finally:
        await store.close()


def runs(database: str) -> list[StoredRun]:
    """Every recorded run, oldest first."""
    return sorted(asyncio.run(_runs(database)), key=lambda run: run.id)


def status(process: ServeProcess) -> dict[str, object]:
    document: dict[str, object] = httpx.get(process.base + "/api/sync/status", timeout=10).json()
    return document


def process_ids(process: ServeProcess) -> set[str]:
    return {row["id"] for row in status(process)["processes"]}  # type: ignore[attr-defined]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[str, list[ServeProcess]]]:
    """The database and three serving processes, each registered."""
    with private_database("postgres", tmp_path) as database, simulator() as upstream:
        env = fleet_env(database, upstream, fleet_config(tmp_path))
        with ExitStack() as stack:
            served = [stack.enter_context(serve_process(tmp_path, env)) for _ in range(3)]
            wait_for(
                lambda: len(process_ids(served[0])) == 3,
                timeout_s=20,
                what="three processes in the registry",
            )
            yield database, served


def rounds_are_single(found: list[StoredRun], gateway: str) -> list[datetime]:
    """The starts of a gateway's scheduled runs; fails when two fall in one round."""
    starts = sorted(
        run.record.started_at
        for run in found
        if run.record.gateway == gateway and run.record.trigger is ChangeSource.POLL
    )
    for earlier, later in itertools.pairwise(starts):
        assert later - earlier > timedelta(seconds=INTERVAL_S / 2), (gateway, starts)
    return starts


@pytest.mark.timeout(240)
def test_three_processes_share_the_rounds_and_survive_a_sigkill(
    fleet: tuple[str, list[ServeProcess]],
) -> None:
    """Rounds: once per gateway. SIGKILL one: its gateways run on within the lease time, and it
    leaves the registry once its heartbeat expires."""
    database, (first, second, third) = fleet
    wait_for(
        lambda: all(len(rounds_are_single(runs(database), g)) >= 2 for g in GATEWAYS),
        timeout_s=90,
        what="two scheduled rounds of every gateway",
    )
    killed_id = next(
        row["id"]
        for row in status(third)["processes"]  # type: ignore[attr-defined]
        if row["pid"] == third.process.pid
    )
    third.kill()
    killed_at = datetime.now(UTC)
    deadline = INTERVAL_S * 1.2 + LEASE_S + 15  # a round, a lapsed lease, slack for the load

    def every_gateway_ran_since_the_kill() -> bool:
        found = runs(database)
        return all(any(s > killed_at for s in rounds_are_single(found, g)) for g in GATEWAYS)

    wait_for(every_gateway_ran_since_the_kill, timeout_s=deadline, what="runs after the SIGKILL")
    wait_for(
        lambda: killed_id not in process_ids(first),
        timeout_s=15,
        what="the killed process dropped off the registry",
    )
    assert len(process_ids(second)) == 2
    for row in status(first)["processes"]:  # type: ignore[attr-defined]
        # Each reports what it applied; without the change-log tail (issue 8) a process applies
        # only its own runs, so a peer may rightly show as lagging here.
        assert isinstance(row["lagging"], bool)
        assert row["applied_version"] >= 0
    found = runs(database)
    for gateway in GATEWAYS:
        rounds_are_single(found, gateway)
        assert all(run.record.succeeded for run in found if run.record.gateway == gateway)


@pytest.mark.timeout(180)
def test_a_webhook_replayed_to_another_process_is_a_duplicate_and_verified_once(
    fleet: tuple[str, list[ServeProcess]],
) -> None:
    """The same delivery to A then to B: accepted, then duplicate; one verification sync."""
    database, (first, second, _) = fleet
    body = orjson.dumps(
        {"gateway": "groq", "event_type": "models.updated",
         "models": [{"id": "groq/compound", "name": "Compound"}],
         "timestamp": int(time.time() * 1000)}
    )  # fmt: skip
    headers = {"x-webhook-signature": sign_hex(SECRET, body)}
    url = "/api/webhooks/models-updated"
    accepted = httpx.post(first.base + url, content=body, headers=headers, timeout=10)
    replayed = httpx.post(second.base + url, content=body, headers=headers, timeout=10)
    assert (accepted.status_code, replayed.status_code) == (202, 200)
    assert replayed.json()["status"] == "duplicate"

    def webhook_runs() -> list[StoredRun]:
        return [
            run for run in runs(database)
            if run.record.gateway == "groq" and run.record.trigger is ChangeSource.WEBHOOK
        ]  # fmt: skip

    wait_for(lambda: len(webhook_runs()) >= 1, timeout_s=30, what="the verification sync")
    time.sleep(5)  # the time a second one (from B) would have needed to start
    assert len(webhook_runs()) == 1
