"""The webhook receiver with fakes: every status code, deduplication, invalidation, syncs."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from pydantic import SecretStr

from modelsync.cache.tags import Invalidation
from modelsync.clock import ManualClock
from modelsync.errors import StoreError
from modelsync.store.base import WebhookDelivery
from modelsync.webhooks.receiver import WebhookReceiver
from modelsync.webhooks.signing import sign_hex, sign_standard

PLAIN = "receiver-plain-secret"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
START = datetime(2026, 1, 1, tzinfo=UTC)
GATEWAYS = {"groq": "groq", "xai": "xai", "grok": "xai"}


class FakeRecorder:
    """Keys with their expiry, like the store's webhook_deliveries table."""

    def __init__(self) -> None:
        self.expiry: dict[str, datetime] = {}
        self.deliveries: list[WebhookDelivery] = []
        self.fail = False

    async def record(self, delivery: WebhookDelivery) -> bool:
        if self.fail:
            raise StoreError("database is down")
        expires = self.expiry.get(delivery.key)
        if expires is not None and expires > delivery.received_at:
            return False
        self.expiry[delivery.key] = delivery.expires_at
        self.deliveries.append(delivery)
        return True


class FakeInvalidator:
    def __init__(self) -> None:
        self.calls: list[tuple[Invalidation, str]] = []
        self.fail = False

    async def invalidate(self, invalidation: Invalidation, *, reason: str) -> None:
        if self.fail:
            raise ConnectionError("redis is down")
        self.calls.append((invalidation, reason))


class FakeTrigger:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail = False

    def __call__(self, gateway: str) -> None:
        if self.fail:
            raise RuntimeError("scheduler is gone")
        self.calls.append(gateway)


class Rig:
    """A receiver wired to fakes on a manual clock."""

    def __init__(self, secrets: Any = f"{PLAIN} {WHSEC}", **options: Any) -> None:
        self.clock = ManualClock(START)
        self.recorder = FakeRecorder()
        self.invalidator = FakeInvalidator()
        self.trigger = FakeTrigger()
        self.receiver = WebhookReceiver(
            secrets, GATEWAYS, self.recorder, self.invalidator, self.trigger, self.clock, **options
        )

    def now_ms(self, offset_s: float = 0) -> int:
        return int((self.clock.now().timestamp() + offset_s) * 1000)

    def event(self, gateway: str = "groq", kind: str = "models.updated", **extra: Any) -> Any:
        models = extra.pop("models", [{"id": "meta/llama-3"}])
        return {"gateway": gateway, "event_type": kind, "models": models,
                "timestamp": self.now_ms(), **extra}  # fmt: skip

    async def send_hex(self, document: Any, *, secret: str = PLAIN) -> tuple[int, dict[str, Any]]:
        body = document if isinstance(document, bytes) else orjson.dumps(document)
        result = await self.receiver.receive({"x-webhook-signature": sign_hex(secret, body)}, body)
        return result.status_code, result.body_json

    async def send_sw(
        self, document: Any, *, msg_id: str = "msg_1", offset_s: int = 0
    ) -> tuple[int, dict[str, Any]]:
        body = document if isinstance(document, bytes) else orjson.dumps(document)
        stamp = int(self.clock.now().timestamp()) + offset_s
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign_standard(WHSEC, msg_id, stamp, body),
        }
        result = await self.receiver.receive(headers, body)
        return result.status_code, result.body_json


async def test_accepted_hex_delivery() -> None:
    """A signed event is recorded, invalidates its tags, requests one sync: 202."""
    rig = Rig()
    status, answer = await rig.send_hex(rig.event())
    assert status == 202
    assert answer["status"] == "accepted"
    assert (answer["events"], answer["models"], answer["gateways"]) == (1, 1, ["groq"])
    assert answer["scheme"] == "hmac-sha256"
    (delivery,) = rig.recorder.deliveries
    assert delivery.gateway == "groq"
    assert delivery.event_types == ("models.updated",)
    assert delivery.expires_at - delivery.received_at == timedelta(seconds=600)
    ((invalidation, reason),) = rig.invalidator.calls
    assert "model:meta/llama-3" in invalidation.tags
    assert reason == f"webhook {answer['id']}"
    assert rig.trigger.calls == ["groq"]


async def test_accepted_standard_webhooks_delivery() -> None:
    """Standard Webhooks: the id is the key; an old event time in the body does not matter."""
    rig = Rig()
    status, answer = await rig.send_sw(rig.event(timestamp=rig.now_ms(-86_400)), msg_id="msg_9")
    assert (status, answer["id"], answer["scheme"]) == (202, "msg_9", "standard-webhooks")


async def test_duplicates_are_answered_but_not_processed() -> None:
    """The same delivery twice: 200 duplicate, no second invalidation, no second sync."""
    rig = Rig()
    document = rig.event()
    assert (await rig.send_hex(document))[0] == 202
    rig.clock.advance(30)
    status, answer = await rig.send_hex(document)
    assert (status, answer["status"]) == (200, "duplicate")
    assert len(rig.invalidator.calls) == 1
    assert rig.trigger.calls == ["groq"]
    assert rig.receiver.describe()["duplicates"] == 1


async def test_standard_webhooks_retry_with_new_timestamp_is_a_duplicate() -> None:
    """A retry keeps its webhook-id and gets a fresh timestamp: still a duplicate."""
    rig = Rig()
    document = rig.event()
    assert (await rig.send_sw(document))[0] == 202
    rig.clock.advance(120)
    assert (await rig.send_sw(document))[1]["status"] == "duplicate"
    rig.clock.advance(600)
    assert (await rig.send_sw(rig.event()))[0] == 202


async def test_list_of_events_triggers_once_per_gateway() -> None:
    """Three events over two gateways (one by alias): two syncs, every model counted."""
    rig = Rig()
    events = [
        rig.event("groq", "models.added", models=[{"id": "a/1"}, {"id": "a/2"}]),
        rig.event("grok", "models.removed", models=[{"id": "x/1"}]),
        rig.event("groq", "gateway.status_changed", models=[]),
    ]
    status, answer = await rig.send_hex(events)
    assert (status, answer["events"], answer["models"]) == (202, 3, 3)
    assert rig.trigger.calls == ["groq", "xai"]
    (delivery,) = rig.recorder.deliveries
    assert delivery.gateway is None
    assert delivery.event_types == ("models.added", "models.removed", "gateway.status_changed")
    ((invalidation, _),) = rig.invalidator.calls
    assert {"model:a/1", "model:a/2", "model:x/1", "models:gateway:xai", "/status"} <= (
        invalidation.tags | invalidation.paths
    )


async def test_five_thousand_model_event() -> None:
    """One event of 5,000 models is accepted and every model's tag is invalidated."""
    rig = Rig()
    models = [{"id": f"author/model-{index}", "name": f"Model {index}"} for index in range(5000)]
    status, answer = await rig.send_hex(rig.event(models=models))
    assert (status, answer["models"]) == (202, 5000)
    ((invalidation, _),) = rig.invalidator.calls
    assert sum(tag.startswith("model:") for tag in invalidation.tags) == 5000
    # the models, their gateway, search and the status (tag and page)
    assert answer["invalidated"] == {"tags": 5003, "paths": 5002}


@pytest.mark.parametrize("secrets", [None, "", "   ", SecretStr("")])
async def test_fail_closed_without_a_secret(secrets: Any) -> None:
    """No secret configured: every delivery is refused, whatever it carries."""
    rig = Rig(secrets)
    status, answer = await rig.send_hex(rig.event())
    assert (status, answer["detail"]) == (401, "no webhook secret configured")
    assert rig.recorder.deliveries == []
    assert rig.receiver.describe()["secret_configured"] is False


async def test_secret_as_secretstr() -> None:
    """Settings hand the secret over as a SecretStr."""
    rig = Rig(SecretStr(PLAIN))
    assert (await rig.send_hex(rig.event()))[0] == 202


async def test_body_over_the_limit_is_413() -> None:
    """The size is checked first: no verification or parsing of a large body."""
    rig = Rig(max_body_bytes=100)
    status, answer = await rig.send_hex(rig.event(models=[{"id": "x" * 200}]))
    assert status == 413
    assert "100 bytes" in answer["detail"]
    assert rig.receiver.max_body_bytes == 100
    assert (await Rig(None, max_body_bytes=10).send_hex(b"{" * 20))[0] == 413


async def test_rejections_by_status() -> None:
    """401 bad signature or stale, 400 bad JSON, 422 wrong shape; nothing recorded."""
    rig = Rig()
    ok = rig.event()
    cases: list[tuple[int, str, tuple[int, dict[str, Any]]]] = [
        (401, "does not match", await rig.send_hex(ok, secret="wrong")),
        (401, "too old", await rig.send_hex(rig.event(timestamp=rig.now_ms(-360)))),
        (401, "too new", await rig.send_hex(rig.event(timestamp=rig.now_ms(360)))),
        (401, "no timestamp", await rig.send_hex({"gateway": "groq"})),
        (401, "too old", await rig.send_sw(ok, offset_s=-360)),
        (400, "invalid JSON", await rig.send_hex(b"{not json")),
        (400, "invalid JSON", await rig.send_sw(b"{not json")),
        (422, "unknown gateway 'nope'", await rig.send_hex(rig.event("nope"))),
        (422, "event_type", await rig.send_hex(rig.event(kind="models.renamed"))),
        (422, "models: Input should be a valid list", await rig.send_hex(rig.event(models={}))),
        (422, "expected at least one event", await rig.send_sw(b"[]")),
    ]
    for expected_status, expected_detail, (status, answer) in cases:
        assert (status, answer["status"]) == (expected_status, "rejected")
        assert expected_detail in answer["detail"]
        assert PLAIN not in answer["detail"]
    assert rig.recorder.deliveries == []
    assert rig.invalidator.calls == []
    assert rig.trigger.calls == []
    assert rig.receiver.describe()["rejected"] == {"400": 2, "401": 5, "422": 4}


async def test_signature_is_checked_before_the_body_is_parsed() -> None:
    """An unsigned body that is not even JSON is a 401, not a 400."""
    rig = Rig()
    result = await rig.receiver.receive({"x-webhook-signature": "0" * 64}, b"{not json")
    assert result.status_code == 401
    result = await rig.receiver.receive({}, orjson.dumps(rig.event()))
    assert (result.status_code, result.body_json["detail"]) == (401, "missing signature header")


async def test_store_down_is_503_and_nothing_happens() -> None:
    """A delivery that cannot be recorded is not acted on; the sender retries later."""
    rig = Rig()
    rig.recorder.fail = True
    status, answer = await rig.send_hex(rig.event())
    assert (status, answer["status"]) == (503, "unavailable")
    assert rig.invalidator.calls == []
    assert rig.trigger.calls == []


async def test_invalidator_failure_still_accepts_and_syncs() -> None:
    """The delivery is recorded; the sync it triggers invalidates again when it finds changes."""
    rig = Rig()
    rig.invalidator.fail = True
    status, answer = await rig.send_hex(rig.event())
    assert (status, answer["invalidated"]) == (202, None)
    assert rig.trigger.calls == ["groq"]


async def test_trigger_failure_still_accepts() -> None:
    """A trigger that raises is logged; the answer is still 202."""
    rig = Rig()
    rig.trigger.fail = True
    assert (await rig.send_hex(rig.event()))[0] == 202
    assert len(rig.invalidator.calls) == 1


async def test_async_trigger_is_not_awaited() -> None:
    """A trigger returning a coroutine runs in the background; the answer does not wait."""
    released = asyncio.Event()
    finished: list[str] = []

    async def slow_sync(gateway: str) -> None:
        await released.wait()
        finished.append(gateway)

    rig = Rig()
    receiver = WebhookReceiver(PLAIN, GATEWAYS, rig.recorder, rig.invalidator, slow_sync, rig.clock)
    body = orjson.dumps([rig.event("groq"), rig.event("xai"), rig.event("groq")])
    result = await receiver.receive({"x-webhook-signature": sign_hex(PLAIN, body)}, body)
    assert result.status_code == 202
    assert finished == []
    released.set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert finished == ["groq", "xai"]


async def test_describe_never_shows_the_secret() -> None:
    """GET reports activity, events and schemes; neither secret appears."""
    rig = Rig()
    await rig.send_hex(rig.event())
    await rig.send_hex(rig.event())
    await rig.send_hex(rig.event(), secret="wrong")
    described = rig.receiver.describe()
    text = json.dumps(described)
    assert PLAIN not in text
    assert WHSEC.removeprefix("whsec_") not in text
    assert described["active"] is True
    assert described["secret_configured"] is True
    assert described["events"] == [
        "models.added", "models.updated", "models.removed", "gateway.status_changed"
    ]  # fmt: skip
    assert [s["configured"] for s in described["schemes"]] == [True, True]
    assert described["accepted"] == {"deliveries": 1, "events": 1, "models": 1}
    assert described["duplicates"] == 1
    assert described["rejected"] == {"401": 1}
    assert described["last_accepted_at"] == START.isoformat()
