"""Three real ``modelsync serve`` processes A, B and C on one PostgreSQL database and one Redis
(a ``redis-server`` of this module's own, so it may restart it), the simulator upstream (issue 11
items 1-3). The tests share the fleet and run in file order; the SIGKILL comes last:

* every gateway runs once per round, whichever process takes it;
* a webhook delivered to A makes the cached JSON on B and C fresh (read through B and C);
* a webhook replayed to a second process is a duplicate there, and its verification sync runs
  once;
* a Redis restart mid-test leaves no process stale for longer than the fallback interval;
* an SSE subscriber on each process gets every change exactly once and in ``seq`` order;
* ``modelsync status --remote`` lists the processes as local ``status`` does;
* SIGKILL one process: its gateways go on running on the others within the lease time, and it
  drops off the registry.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import orjson
import pytest

from fleet.redis_server import RedisServer, redis_server
from modelsync.domain import ChangeSource
from modelsync.gateways.registry import BUILTIN
from modelsync.store.base import StoredRun
from modelsync.store.sql import SqlStore
from modelsync.webhooks.signing import sign_hex
from service_process import (
    BIN,
    ServeProcess,
    clean_environment,
    serve_process,
    simulator,
    wait_for,
)
from store.conftest import asyncpg_dsn, private_database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

GATEWAYS = ("groq", "cerebras", "xai", "nebius")
"""Polled every ``INTERVAL_S``."""
QUIET = "fireworks"
"""Enabled, polled hourly: changed by webhooks and manual syncs only, while the test lasts."""
INTERVAL_S = 10
LEASE_S = 6
"""Renewed every 2 s, a run stops after 4.8 s without a renewal: a loaded machine's stall never
costs a lease (a lost lease would make a failed run and a takeover in one round)."""
FALLBACK_S = 5.0
"""The fallback interval: the change feed's safety-net poll while notifications arrive
(``MODELSYNC_FEED__NOTIFIED_POLL_S``); no process may serve stale JSON for longer."""
ADMIN = "fleet-admin-token-0123456789abcdef"
SECRET = "fleet-webhook-secret-0123456789"
WEBHOOK = "/api/webhooks/models-updated"


def fleet_config(folder: Path) -> Path:
    """Four gateways every 10 s, one hourly, the other shipped ones off."""
    lines = []
    for spec in BUILTIN:
        lines.append(f"[gateways.{spec.name}]")
        if spec.name in GATEWAYS:
            lines.append(f"interval_s = {INTERVAL_S}")
        elif spec.name == QUIET:
            lines.append("interval_s = 3600")
        else:
            lines.append("enabled = false")
    path = folder / "fleet.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def fleet_env(database: str, upstream: str, config: Path, redis_url: str) -> dict[str, str]:
    return clean_environment(
        MODELSYNC_DATABASE_URL=database,
        MODELSYNC_REDIS_URL=redis_url,
        MODELSYNC_CACHE__REDIS_PREFIX=f"fleet:{uuid.uuid4().hex}",
        MODELSYNC_UPSTREAM=upstream,
        MODELSYNC_CONFIG_FILE=str(config),
        MODELSYNC_ADMIN_TOKEN=ADMIN,
        MODEL_WEBHOOK_SECRET=SECRET,
        MODELSYNC_SCHEDULER__LEASE_TTL_S=str(LEASE_S),
        MODELSYNC_SCHEDULER__HINT_DEBOUNCE_S="0.5",
        # the quiet gateway's first poll is an hour's spread away, never within the test
        MODELSYNC_SCHEDULER__FIRST_RUN_WINDOW_S="3600",
        MODELSYNC_PROCESS__HEARTBEAT_S="1",
        MODELSYNC_PROCESS__EXPIRE_AFTER_S="4",
        MODELSYNC_FEED__NOTIFIED_POLL_S=str(FALLBACK_S),
        MODELSYNC_FEED__HEARTBEAT_S="1",
        MODELSYNC_HTTP__ATTEMPTS="1",
    )


# -- reading the fleet ---------------------------------------------------------------------------


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


async def _seqs(database: str) -> list[int]:
    connection = await asyncpg.connect(asyncpg_dsn(database))
    try:
        return [row["seq"] for row in await connection.fetch("SELECT seq FROM changes ORDER BY 1")]
    finally:
        await connection.close()


def logged_seqs(database: str) -> list[int]:
    """The change log's seqs, in order."""
    return asyncio.run(_seqs(database))


def status(process: ServeProcess) -> dict[str, object]:
    document: dict[str, object] = httpx.get(process.base + "/api/sync/status", timeout=10).json()
    return document


def process_ids(process: ServeProcess) -> set[str]:
    return {row["id"] for row in status(process)["processes"]}  # type: ignore[attr-defined]


def model_count(process: ServeProcess, gateway: str = QUIET) -> int:
    answer = httpx.get(
        process.base + "/api/models", params={"gateway": gateway, "limit": 5000}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    found: int = answer.json()["count"]
    return found


def redis_hits(process: ServeProcess) -> float:
    """This process's ``modelsync_cache_hits_total{cache="redis"}``."""
    text = httpx.get(process.base + "/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith('modelsync_cache_hits_total{cache="redis"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def cached(process: ServeProcess) -> None:
    """Read the quiet gateway's models until the answer comes from the shared cache."""

    def hit() -> bool:
        before = redis_hits(process)
        model_count(process)
        return redis_hits(process) > before

    wait_for(hit, timeout_s=20, what=f"a cached answer on {process.base}")


def admin_sync(process: ServeProcess, gateway: str) -> None:
    answer = httpx.post(
        process.base + "/api/sync/models",
        json={"gateway": gateway},
        headers={"authorization": f"Bearer {ADMIN}"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text


def add_a_model(upstream: str, gateway: str = QUIET) -> str:
    """The upstream lists a new model; its id."""
    answer = httpx.post(upstream + "/_admin/mutate", json={"gateway": gateway, "op": "add"})
    assert answer.status_code == 200, answer.text
    added: str = answer.json()["model_id"]
    return added


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


# -- SSE subscribers -----------------------------------------------------------------------------


@dataclass
class Subscriber:
    """``GET /api/changes/stream`` with ``Last-Event-ID: 0``, read in a thread of its own: every
    change's ``seq`` as it arrives."""

    base: str
    seqs: list[int] = field(default_factory=list)
    error: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        timeout = httpx.Timeout(10, read=30)  # the server sends a comment every second
        headers = {"last-event-id": "0", "accept": "text/event-stream"}
        try:
            with httpx.stream(
                "GET", self.base + "/api/changes/stream", headers=headers, timeout=timeout
            ) as response:
                if response.status_code != 200:
                    self.error = f"HTTP {response.status_code}"
                    return
                for line in response.iter_lines():
                    if self.stop.is_set():
                        return
                    if line.startswith("data:"):
                        event = orjson.loads(line[5:])
                        if event["type"] == "change":
                            self.seqs.append(event["seq"])
                        elif event["type"] in ("overflow", "gone"):
                            self.error = f"{event['type']} event"
                            return
        except httpx.HTTPError as exc:
            if not self.stop.is_set():
                self.error = f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        self.stop.set()
        if self._thread is not None:
            self._thread.join(timeout=35)


# -- the fleet -----------------------------------------------------------------------------------


@dataclass
class Fleet:
    database: str
    upstream: str
    redis: RedisServer
    processes: list[ServeProcess]
    subscribers: list[Subscriber]
    folder: Path


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """The database, a Redis of its own, three serving processes registered, and an SSE
    subscriber on each from the start of the log."""
    folder = tmp_path_factory.mktemp("fleet")
    redis_folder = folder / "redis"
    redis_folder.mkdir()
    with (
        private_database("postgres", folder) as database,
        simulator() as upstream,
        redis_server(redis_folder) as redis,
        ExitStack() as stack,
    ):
        env = fleet_env(database, upstream, fleet_config(folder), redis.url)
        served = [stack.enter_context(serve_process(folder, env)) for _ in range(3)]
        wait_for(
            lambda: all(len(process_ids(process)) == 3 for process in served),
            timeout_s=30,
            what="three processes in every registry",
        )
        subscribers = [Subscriber(process.base) for process in served]
        for subscriber in subscribers:
            subscriber.start()
            stack.callback(subscriber.close)
        yield Fleet(database, upstream, redis, served, subscribers, folder)


# -- the tests, in order -------------------------------------------------------------------------


@pytest.mark.timeout(150)
def test_every_gateway_runs_once_per_round(fleet: Fleet) -> None:
    """Over two scheduled rounds, each polled gateway runs once per round."""
    wait_for(
        lambda: all(len(rounds_are_single(runs(fleet.database), g)) >= 2 for g in GATEWAYS),
        timeout_s=90,
        what="two scheduled rounds of every gateway",
    )


@pytest.mark.timeout(120)
def test_a_webhook_to_a_makes_the_cached_json_on_b_and_c_fresh(fleet: Fleet) -> None:
    """B and C answer the quiet gateway's models from the shared cache; the upstream adds one
    and a signed webhook tells A; B and C then list it (A's verification sync committed it)."""
    first, second, third = fleet.processes
    admin_sync(first, QUIET)
    before = model_count(first)
    for process in (second, third):
        cached(process)
        assert model_count(process) == before
    added = add_a_model(fleet.upstream)
    body = orjson.dumps(
        {"gateway": QUIET, "event_type": "models.added", "models": [{"id": added}],
         "timestamp": int(time.time() * 1000)}
    )  # fmt: skip
    headers = {"x-webhook-signature": sign_hex(SECRET, body)}
    accepted = httpx.post(first.base + WEBHOOK, content=body, headers=headers, timeout=10)
    assert accepted.status_code == 202, accepted.text
    for process in (second, third):
        wait_for(
            lambda process=process: model_count(process) == before + 1,  # type: ignore[misc]
            timeout_s=30,
            what=f"the new model on {process.base}",
        )
    verified = [
        run for run in runs(fleet.database)
        if run.record.gateway == QUIET and run.record.trigger is ChangeSource.WEBHOOK
    ]  # fmt: skip
    assert len(verified) == 1
    assert verified[0].record.succeeded


@pytest.mark.timeout(120)
def test_a_webhook_replayed_to_another_process_is_a_duplicate_and_verified_once(
    fleet: Fleet,
) -> None:
    """The same delivery to A then to B: accepted, then duplicate; one verification sync."""
    first, second, _ = fleet.processes
    body = orjson.dumps(
        {"gateway": "groq", "event_type": "models.updated",
         "models": [{"id": "groq/compound", "name": "Compound"}],
         "timestamp": int(time.time() * 1000)}
    )  # fmt: skip
    headers = {"x-webhook-signature": sign_hex(SECRET, body)}
    accepted = httpx.post(first.base + WEBHOOK, content=body, headers=headers, timeout=10)
    replayed = httpx.post(second.base + WEBHOOK, content=body, headers=headers, timeout=10)
    assert (accepted.status_code, replayed.status_code) == (202, 200)
    assert replayed.json()["status"] == "duplicate"

    def webhook_runs() -> list[StoredRun]:
        return [
            run for run in runs(fleet.database)
            if run.record.gateway == "groq" and run.record.trigger is ChangeSource.WEBHOOK
        ]  # fmt: skip

    wait_for(lambda: len(webhook_runs()) >= 1, timeout_s=30, what="the verification sync")
    time.sleep(5)  # the time a second one (from B) would have needed to start
    assert len(webhook_runs()) == 1


@pytest.mark.timeout(120)
def test_a_redis_restart_leaves_no_process_stale_past_the_fallback(fleet: Fleet) -> None:
    """B and C hold the quiet gateway's models in Redis; Redis stops (saving its data), A
    commits a new model meanwhile (every process's invalidation fails), Redis comes back with
    the old entries: each process answers fresh within the fallback interval."""
    first, second, third = fleet.processes
    for process in (second, third):
        cached(process)
    before = model_count(second)
    fleet.redis.stop(save=True)
    add_a_model(fleet.upstream)
    admin_sync(first, QUIET)
    for process in (second, third):  # Redis away: answered from the database
        wait_for(
            lambda process=process: model_count(process) == before + 1,  # type: ignore[misc]
            timeout_s=FALLBACK_S + 10,
            what=f"a fresh answer from {process.base} while Redis is down",
        )
    fleet.redis.start()
    back = time.monotonic()
    for process in fleet.processes:
        wait_for(
            lambda process=process: model_count(process) == before + 1,  # type: ignore[misc]
            timeout_s=30,
            what=f"an answer from {process.base} after the restart",
        )
        stale_for = time.monotonic() - back
        assert stale_for < FALLBACK_S, (process.base, stale_for)
    for process in fleet.processes:  # and the shared cache works again
        cached(process)
        assert model_count(process) == before + 1


@pytest.mark.timeout(120)
def test_each_sse_subscriber_gets_every_change_once_in_seq_order(fleet: Fleet) -> None:
    """From ``Last-Event-ID: 0`` through the rounds, the webhooks and the Redis restart: every
    subscriber has had the whole log, each seq once, in order."""
    logged = logged_seqs(fleet.database)
    assert len(logged) > 20  # the first syncs added every model, the tests added more
    for subscriber in fleet.subscribers:
        wait_for(
            lambda s=subscriber: s.error is not None or len(s.seqs) >= len(logged),  # type: ignore[misc]
            timeout_s=30,
            what=f"every change on {subscriber.base}'s stream",
        )
        assert subscriber.error is None, subscriber.error
        assert subscriber.seqs[: len(logged)] == logged, subscriber.base
        assert len(set(subscriber.seqs)) == len(subscriber.seqs)
        assert subscriber.seqs == sorted(subscriber.seqs)

    def applied_everywhere() -> bool:
        """Each process's heartbeat reports the version its feed applied: the store's."""
        found = [status(process) for process in fleet.processes]
        rows = {row["id"]: row for row in found[0]["processes"]}  # type: ignore[attr-defined]
        for document in found:
            me = document["process"]["owner"]  # type: ignore[index]
            applied = document["feed"]["applied_catalog_version"]  # type: ignore[index]
            current = applied == document["catalog_version"] == found[0]["catalog_version"]
            if not current or me not in rows or rows[me]["applied_version"] != applied:
                return False
        return True

    wait_for(applied_everywhere, timeout_s=30, what="every process's applied version current")


@pytest.mark.timeout(60)
def test_status_remote_lists_the_processes(fleet: Fleet) -> None:
    """``modelsync status --remote`` (JSON and table) lists the three processes, as ``status``
    does on the database."""
    first, *_ = fleet.processes
    env = clean_environment(COLUMNS="200")
    found = subprocess.run(
        [str(BIN / "modelsync"), "status", "--remote", first.base, "--json"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    listed = json.loads(found.stdout)["processes"]
    assert {row["pid"] for row in listed} == {p.process.pid for p in fleet.processes}
    assert all(isinstance(row["lagging"], bool) for row in listed)

    def all_current() -> bool:  # every process has applied the store's version, and says so
        rows = status(first)["processes"]  # type: ignore[attr-defined]
        return len(rows) == 3 and not any(row["lagging"] for row in rows)

    wait_for(all_current, timeout_s=30, what="three processes, none lagging")
    table = subprocess.run(
        [str(BIN / "modelsync"), "status", "--remote", first.base],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert table.returncode == 0, table.stderr
    assert "\nprocess " in table.stdout
    for row in listed:
        assert row["id"] in table.stdout


@pytest.mark.timeout(150)
def test_a_sigkilled_process_gateways_run_on_and_it_leaves_the_registry(fleet: Fleet) -> None:
    """SIGKILL C: its gateways run on within a round and a lapsed lease, and C leaves the
    registry once its heartbeat expires; every round stayed single, every run succeeded."""
    first, second, third = fleet.processes
    killed_id = next(
        row["id"]
        for row in status(third)["processes"]  # type: ignore[attr-defined]
        if row["pid"] == third.process.pid
    )
    fleet.subscribers[2].close()
    third.kill()
    killed_at = datetime.now(UTC)
    deadline = INTERVAL_S * 1.2 + LEASE_S + 15  # a round, a lapsed lease, slack for the load

    def every_gateway_ran_since_the_kill() -> bool:
        found = runs(fleet.database)
        return all(any(s > killed_at for s in rounds_are_single(found, g)) for g in GATEWAYS)

    wait_for(every_gateway_ran_since_the_kill, timeout_s=deadline, what="runs after the SIGKILL")
    wait_for(
        lambda: killed_id not in process_ids(first) and killed_id not in process_ids(second),
        timeout_s=15,
        what="the killed process dropped off the registry",
    )
    assert len(process_ids(second)) == 2
    found = runs(fleet.database)
    for gateway in GATEWAYS:
        rounds_are_single(found, gateway)
        assert all(run.record.succeeded for run in found if run.record.gateway == gateway)
