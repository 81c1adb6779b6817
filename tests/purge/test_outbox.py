"""Outbound change webhooks (issue 8 item 3) through the outbox, on SQLite and PostgreSQL, to a
real local recording server: one signed delivery per committed run and subscriber (Standard
Webhooks), a retry after a 500, the give-up after the budget recorded, and no delivery lost when
the run commits while no server is up."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from modelsync.config import PurgeSettings, load_settings
from modelsync.errors import ConfigError
from modelsync.purge import check_settings
from modelsync.web.services import Services, open_services
from purge.recorder import Received, Recorder, recording_server
from service_process import cli_sync, sim_admin

pytestmark = pytest.mark.timeout(120)
SECRET_A = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECRET_B = "whsec_" + base64.b64encode(b"another-subscriber-key-0123456789").decode()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with recording_server() as server:
        yield server


@asynccontextmanager
async def serving(database: str, upstream: str, recorder: Recorder) -> AsyncIterator[Services]:
    purge = {
        "webhooks": [
            {"url": recorder.base + "/hook-a", "secret": SECRET_A},
            {"url": recorder.base + "/hook-b", "secret": SECRET_B},
        ],
        "attempts": 3,
        "backoff_base_s": 0.01,
        "backoff_cap_s": 0.05,
    }
    settings = load_settings(database_url=database, upstream=upstream, purge=purge)
    async with open_services(settings, run_scheduler=False) as services:
        yield services


def verified(call: Received, secret: str) -> dict[str, Any]:
    """The delivery's JSON, after checking its Standard Webhooks signature independently."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{call.headers['webhook-id']}.{call.headers['webhook-timestamp']}.".encode()
    expected = base64.b64encode(hmac.new(key, signed + call.body, hashlib.sha256).digest())
    assert call.headers["webhook-signature"] == "v1," + expected.decode()
    assert abs(int(call.headers["webhook-timestamp"]) - time.time()) < 120
    body: dict[str, Any] = orjson.loads(call.body)
    return body


async def arrived(recorder: Recorder, path: str, count: int, within_s: float = 20) -> None:
    deadline = time.monotonic() + within_s
    while len(recorder.to(path)) < count:
        assert time.monotonic() < deadline, f"{path}: {len(recorder.to(path))} of {count}"
        await asyncio.sleep(0.05)


async def test_one_signed_delivery_per_run_retried_and_kept_across_restarts(
    upstream: str, database: str, recorder: Recorder, tmp_path: Path
) -> None:
    sim_admin(upstream, "/_admin/reset")
    recorder.script("/hook-b", [500, 200])
    async with serving(database, upstream, recorder) as services:
        report = await asyncio.to_thread(cli_sync, upstream, database, tmp_path, "groq")
        await arrived(recorder, "/hook-a", 1)
        await arrived(recorder, "/hook-b", 2)  # a 500, then the retry
        [a] = recorder.to("/hook-a")
        body = verified(a, SECRET_A)
        run = report["gateways"][0]
        assert body["type"] == "catalog.changed"
        data = body["data"]
        assert (data["gateway"], data["catalog_version"]) == ("groq", report["catalog_version"])
        assert data["change_count"] == len(data["changes"]) == run["added"]
        assert not data["truncated"]
        assert a.headers["webhook-id"] == f"run_{data['run_id']}"
        first, second = recorder.to("/hook-b")
        assert (
            first.headers["webhook-id"] == second.headers["webhook-id"] == a.headers["webhook-id"]
        )
        assert verified(second, SECRET_B)["data"] == data
        rows = await services.purgers.outbox.rows()  # type: ignore[union-attr]
        assert [(r["subscriber"].rsplit("/", 1)[1], r["status"], r["attempts"]) for r in rows] == [
            ("hook-a", "delivered", 1),
            ("hook-b", "delivered", 2),
        ]
        status = services.purgers.describe()["webhooks"]
        assert (status["sent_calls"], status["failures"]) == (2, 0)

    # a run commits while no server is up; the next one to start sends it
    sim_admin(upstream, "/_admin/mutate", {"gateway": "groq", "op": "add"})
    report = await asyncio.to_thread(cli_sync, upstream, database, tmp_path, "groq")
    assert report["gateways"][0]["added"] == 1
    recorder.script("/hook-a", [500])  # and hook-a now fails for good
    async with serving(database, upstream, recorder) as services:
        await arrived(recorder, "/hook-b", 3)
        data = verified(recorder.to("/hook-b")[-1], SECRET_B)["data"]
        assert (data["catalog_version"], data["change_count"]) == (report["catalog_version"], 1)
        await arrived(recorder, "/hook-a", 1 + 3)  # attempts=3, then given up
        deadline = time.monotonic() + 10
        while services.purgers.describe()["webhooks"]["failures"] < 1:
            assert time.monotonic() < deadline, "the give-up was not recorded"
            await asyncio.sleep(0.05)
        status = services.purgers.describe()["webhooks"]
        assert status["last_error"] == (
            f"HTTP 500 from {recorder.base}/hook-a; gave up after 3 attempts"
        )
        rows = await services.purgers.outbox.rows()  # type: ignore[union-attr]
        assert [(r["status"], r["attempts"]) for r in rows[2:]] == [("failed", 3), ("delivered", 1)]
        assert rows[2]["last_error"] == status["last_error"]


def test_bad_subscriber_is_refused_in_one_line() -> None:
    settings = PurgeSettings.model_validate(
        {"webhooks": [{"url": "https://hooks.example/x", "secret": "not-a-whsec"}]}
    )
    with pytest.raises(ConfigError) as refused:
        check_settings(settings)
    assert str(refused.value) == (
        "MODELSYNC_PURGE__WEBHOOKS entry 1: secret must be a whsec_ secret (whsec_ and base64)"
    )
    bad_url = PurgeSettings.model_validate({"webhooks": [{"url": "mailto:x", "secret": SECRET_A}]})
    with pytest.raises(ConfigError, match="entry 1: url must be an http"):
        check_settings(bad_url)
