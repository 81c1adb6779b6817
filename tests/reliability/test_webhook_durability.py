"""A webhook answered 2xx is committed, and its verification sync happens, whatever kills what.

A real ``modelsync serve`` takes signed deliveries and is SIGKILLed right after the answers (or
in the middle of a flood); every delivery it answered 2xx must be in the database, and after a
restart every gateway they named must get a sync that started after its delivery. The
gateways' polls are scheduled a day away, so only the webhooks can start those syncs. A
delivery whose accepting process died before its sync, retried to a process already running,
has its sync requested again. During a PostgreSQL outage (a server the test stops itself)
deliveries are answered non-2xx, never accepted and dropped.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from conftest import serve_logging, serving
from modelsync.config import load_settings, resolve_gateways
from modelsync.runtime import registrations
from modelsync.store import migrate
from modelsync.store.base import WebhookDelivery
from modelsync.store.sql import SqlStore
from modelsync.web.app import create_app
from modelsync.web.serve import server_config
from modelsync.webhooks.signing import STANDARD_SCHEME, sign_standard
from reliability.pg_cluster import throwaway_cluster
from service_process import clean_environment, serve_process, simulator
from store.conftest import private_database

# Each test waits on real processes: a 30 s flood, a restart and a 45 s catch-up under load.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
WEBHOOK = "/api/webhooks/models-updated"
GATEWAYS = [spec.name for spec in resolve_gateways(load_settings(upstream="http://sim")).values()]
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def delivery(gateway: str, msg_id: str) -> tuple[bytes, dict[str, str]]:
    """A signed Standard Webhooks delivery of one ``models.updated`` event."""
    now = int(time.time())
    body = orjson.dumps(
        {
            "gateway": gateway,
            "event_type": "models.updated",
            "models": [{"id": f"{gateway}/changed"}],
            "timestamp": now * 1000,
        }
    )
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(now),
        "webhook-signature": sign_standard(WHSEC, msg_id, now, body),
    }
    return body, headers


async def quiet_schedule(url: str) -> None:
    """Migrate, register every gateway and put its next poll a day away."""
    await migrate.upgrade(url)
    store = SqlStore(url)
    await store.open()
    try:
        await store.register_gateways(registrations(resolve_gateways(load_settings(upstream="x"))))
        for name in GATEWAYS:
            await store.set_next_run(name, datetime.now(UTC) + timedelta(days=1))
    finally:
        await store.close()


async def stored(url: str) -> tuple[dict[str, WebhookDelivery], dict[str, list[datetime]]]:
    """The stored deliveries by key, and each gateway's run start times."""
    store = SqlStore(url)
    await store.open()
    try:
        deliveries = {d.key: d for d in await store.list_deliveries(limit=100_000)}
        runs = await store.list_runs(limit=100_000)
    finally:
        await store.close()
    starts: dict[str, list[datetime]] = {}
    for run in runs:
        starts.setdefault(run.record.gateway, []).append(run.record.started_at)
    return deliveries, starts


@pytest.fixture
def database(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database of the test's own, gateways registered and polls a day away."""
    with private_database(backend, tmp_path, migrated=False) as url:
        asyncio.run(quiet_schedule(url))
        yield url


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """The simulator, shared by the module's tests; logs as ``serve`` logs them (JSON lines,
    not the default console renderer, which spends seconds drawing a database error)."""
    with serve_logging(), simulator() as base:
        yield base


def service_env(database: str, upstream: str, *, debounce_s: float) -> dict[str, str]:
    """The service on ``database`` and the simulator; hints wait ``debounce_s``."""
    return clean_environment(
        MODELSYNC_DATABASE_URL=database,
        MODELSYNC_UPSTREAM=upstream,
        MODEL_WEBHOOK_SECRET=WHSEC,
        MODELSYNC_SCHEDULER__HINT_DEBOUNCE_S=str(debounce_s),
        MODELSYNC_SCHEDULER__HINT_MIN_INTERVAL_S="0",
        MODELSYNC_LOG_LEVEL="INFO",
    )


async def send_all(base: str, deliveries: list[tuple[bytes, dict[str, str]]]) -> list[int]:
    """POST every delivery at once; the status codes, in order."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        answers = await asyncio.gather(
            *(client.post(WEBHOOK, content=body, headers=headers) for body, headers in deliveries)
        )
    return [answer.status_code for answer in answers]


def in_thread(database: str, upstream: str) -> uvicorn.Server:
    """The service as ``serve`` runs it, in a thread of the test (no process start-up)."""
    settings = load_settings(**settings_of(service_env(database, upstream, debounce_s=0)))
    return uvicorn.Server(server_config(create_app(settings), "127.0.0.1", 0, settings))


def settings_of(env: dict[str, str]) -> dict[str, Any]:
    """The keyword settings of ``service_env``'s variables."""
    return {
        "database_url": env["MODELSYNC_DATABASE_URL"],
        "upstream": env["MODELSYNC_UPSTREAM"],
        "webhook_secret": env["MODEL_WEBHOOK_SECRET"],
        "scheduler": {"hint_debounce_s": 0, "hint_min_interval_s": 0},
    }


def owed_syncs(url: str, accepted: dict[str, str]) -> list[str]:
    """The gateways of ``accepted`` (key -> gateway) with no run started after their newest
    delivery."""
    records, starts = asyncio.run(stored(url))
    newest: dict[str, datetime] = {}
    for key, gateway in accepted.items():
        received = records[key].received_at
        newest[gateway] = max(received, newest.get(gateway, received))
    return sorted(
        gateway
        for gateway, received in newest.items()
        if not any(start >= received for start in starts.get(gateway, []))
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_deliveries_answered_before_a_sigkill_are_stored_and_their_syncs_run(
    database: str, upstream: str, tmp_path: Path
) -> None:
    """Killed mid-flood: every 2xx is stored; restarted: every gateway named gets its sync."""
    accepted: dict[str, str] = {}
    sent: dict[str, tuple[bytes, dict[str, str]]] = {}
    with serve_process(tmp_path, service_env(database, upstream, debounce_s=60)) as served:
        numbers = itertools.count()

        async def sender(client: httpx.AsyncClient) -> None:
            while True:
                number = next(numbers)
                gateway, msg_id = GATEWAYS[number % len(GATEWAYS)], f"msg_flood_{number}"
                sent[msg_id] = body, headers = delivery(gateway, msg_id)
                try:
                    answer = await client.post(WEBHOOK, content=body, headers=headers)
                except httpx.TransportError:
                    return
                if answer.status_code // 100 == 2:
                    accepted[msg_id] = gateway

        async def flood() -> None:
            async with httpx.AsyncClient(base_url=served.base, timeout=10) as client:
                senders = [asyncio.create_task(sender(client)) for _ in range(8)]
                deadline = time.monotonic() + 30
                while len(accepted) < 200:
                    assert time.monotonic() < deadline, "200 deliveries within 30 s"
                    await asyncio.sleep(0.001)
                served.kill()
                await asyncio.wait_for(asyncio.gather(*senders), timeout=15)

        asyncio.run(flood())
    records, _ = asyncio.run(stored(database))
    missing = sorted(set(accepted) - set(records))
    assert missing == [], f"{len(missing)} of {len(accepted)} accepted deliveries are gone"
    assert set(accepted.values()) == set(GATEWAYS)

    with serve_process(tmp_path, service_env(database, upstream, debounce_s=0)) as again:
        deadline = time.monotonic() + 45
        while owed := owed_syncs(database, accepted):
            assert time.monotonic() < deadline, f"no verification sync of {owed}\n{again.log()}"
            time.sleep(0.2)
        retries = [sent[key] for key in list(accepted)[:13]]
        assert asyncio.run(send_all(again.base, retries)) == [200] * len(retries)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_retried_delivery_whose_sync_never_ran_triggers_it(database: str, upstream: str) -> None:
    """Another process recorded the delivery and died; its retry, here, starts the sync."""
    with serving(in_thread(database, upstream)) as base:
        body, headers = delivery("groq", "msg_from_a_dead_process")
        received = datetime.now(UTC)

        async def record_as_the_dead_process() -> None:
            store = SqlStore(database)
            await store.open()
            try:
                dead = WebhookDelivery(
                    key="msg_from_a_dead_process",
                    scheme=STANDARD_SCHEME,
                    gateway="groq",
                    event_types=("models.updated",),
                    model_count=1,
                    received_at=received,
                    expires_at=received + timedelta(minutes=10),
                    detail={"events": 1, "gateways": ["groq"]},
                )
                assert await store.record_deliveries([dead]) == [True]
            finally:
                await store.close()

        asyncio.run(record_as_the_dead_process())
        answer = httpx.post(base + WEBHOOK, content=body, headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "duplicate"
        deadline = time.monotonic() + 20
        while owed_syncs(database, {"msg_from_a_dead_process": "groq"}):
            assert time.monotonic() < deadline, "no sync of groq"
            time.sleep(0.1)


@pytest.mark.postgres
def test_deliveries_during_a_database_outage_are_refused_then_accepted(upstream: str) -> None:
    """PostgreSQL stopped: every delivery answered 503 (the sender retries); back: all stored."""
    with throwaway_cluster() as cluster:
        asyncio.run(quiet_schedule(cluster.url))
        with serving(in_thread(cluster.url, upstream)) as base:
            deliveries = [delivery(gateway, f"msg_outage_{gateway}") for gateway in GATEWAYS]
            cluster.stop()
            during = asyncio.run(send_all(base, deliveries))
            assert during == [503] * len(GATEWAYS), during
            cluster.start()
            deadline = time.monotonic() + 30
            while True:  # the sender's retries, until the pool has reconnected
                after = asyncio.run(send_all(base, deliveries))
                if all(code // 100 == 2 for code in after):
                    break
                assert time.monotonic() < deadline, after
                time.sleep(0.2)
        records, _ = asyncio.run(stored(cluster.url))
    assert sorted(records) == sorted(f"msg_outage_{gateway}" for gateway in GATEWAYS)
