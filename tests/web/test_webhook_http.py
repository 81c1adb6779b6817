"""``/api/webhooks/models-updated`` over HTTP: every bad input, acceptance, dedupe, coalescing."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from modelsync.clock import ManualClock
from modelsync.domain import ChangeSource
from modelsync.simulator.faults import parse_fault
from modelsync.simulator.mutations import mutate
from modelsync.sync.runner import RunSummary
from modelsync.web.app import create_app
from modelsync.webhooks.signing import sign_hex
from web.harness import (
    PLAIN_SECRET,
    START,
    WEBHOOK,
    WHSEC,
    GatedTransport,
    Service,
    body_of,
    event,
    eventually,
    open_service,
    seed_headers,
    service_settings,
    simulator_app,
    standard_headers,
)

CLOCK = ManualClock(START)
"""The service's frozen time: bodies and headers below are built against it."""
MIB = 1024 * 1024
GOOD = body_of(event(CLOCK))
GOOD_HEX = sign_hex(PLAIN_SECRET, GOOD).removeprefix("sha256=")
OTHER = body_of(event(CLOCK, models=("groq/compound-mini",)))


async def assert_nothing_changed(service: Service) -> None:
    """No delivery recorded, no invalidation, no sync requested or run."""
    await asyncio.sleep(0.02)  # a triggered sync would have started by now
    services = service.services
    assert await services.runtime.store.list_deliveries() == []
    assert services.manifest.recent() == []
    assert services.scheduler.running() == []
    assert service.transport.requests == {}
    assert await service.runs() == []
    assert services.receiver.describe()["accepted"]["deliveries"] == 0


def signed(document: Any) -> tuple[bytes, dict[str, str]]:
    """A body and valid seed-scheme headers for it."""
    body = document if isinstance(document, bytes) else body_of(document)
    return body, seed_headers(body)


def standard(document: Any, **options: Any) -> tuple[bytes, dict[str, str]]:
    """A body and Standard Webhooks headers for it (options as ``standard_headers`` takes)."""
    body = document if isinstance(document, bytes) else body_of(document)
    return body, standard_headers(body, CLOCK, **options)


def with_header(name: str, value: str, body: bytes = GOOD) -> tuple[bytes, dict[str, str]]:
    """``body`` with one header set as given."""
    return body, {"content-type": "application/json", name: value}


def changed(**fields: Any) -> dict[str, Any]:
    """The good event with some fields replaced (or removed, when given as ``...``)."""
    document = event(CLOCK)
    for key, value in fields.items():
        if value is ...:
            del document[key]
        else:
            document[key] = value
    return document


valid_b64 = standard(GOOD)[1]["webhook-signature"].removeprefix("v1,")
BAD: list[tuple[str, tuple[bytes, dict[str, str]], int, str]] = [
    ("missing-signature", (GOOD, {"content-type": "application/json"}), 401, "missing"),
    ("empty-signature", with_header("x-webhook-signature", ""), 401, "malformed"),
    ("non-hex", with_header("x-webhook-signature", "zz" * 32), 401, "malformed"),
    ("odd-length", with_header("x-webhook-signature", GOOD_HEX[:63]), 401, "malformed"),
    ("truncated", with_header("x-webhook-signature", GOOD_HEX[:32]), 401, "malformed"),
    ("trailing-chars", with_header("x-webhook-signature", GOOD_HEX + "ab"), 401, "malformed"),
    ("trailing-junk", with_header("x-webhook-signature", GOOD_HEX + "!"), 401, "malformed"),
    ("sha1-prefix", with_header("x-webhook-signature", "sha1=" + GOOD_HEX), 401, "malformed"),
    ("wrong-secret", (GOOD, seed_headers(GOOD, secret="another-secret")), 401, "does not match"),
    ("other-body", (OTHER, seed_headers(GOOD)), 401, "does not match"),
    ("six-minutes-old", signed(event(CLOCK, offset_s=-360)), 401, "too old"),
    ("six-minutes-ahead", signed(event(CLOCK, offset_s=360)), 401, "too new"),
    ("no-timestamp", signed(changed(timestamp=...)), 401, "no timestamp"),
    ("timestamp-in-seconds", signed(changed(timestamp=1767225600)), 401, "too old"),
    (
        "timestamp-a-string",
        signed(changed(timestamp=str(event(CLOCK)["timestamp"]))),
        401,
        "not an integer",
    ),
    ("invalid-json", signed(b'{"gateway": "groq", '), 400, "invalid JSON"),
    ("empty-body", signed(b""), 400, "invalid JSON"),
    ("not-utf8", signed(b'{"gateway": "\xff"}'), 400, "invalid JSON"),
    ("wrong-shape", signed(changed(models=[{"name": "no id"}])), 422, "models[0].id"),
    ("models-not-a-list", signed(changed(models={"id": "groq/compound"})), 422, "models"),
    ("models-a-string", signed(changed(models="groq/compound")), 422, "models"),
    ("no-models", signed(changed(models=[])), 422, "at least one model"),
    ("unknown-event-type", signed(changed(event_type="models.exploded")), 422, "event_type"),
    ("unknown-gateway", signed(changed(gateway="nope")), 422, "unknown gateway"),
    ("gateway-not-a-string", signed(changed(gateway=5)), 422, "gateway"),
    (
        "one-bad-event-in-a-list",
        signed([event(CLOCK), changed(gateway="nope")]),
        422,
        "[1].gateway",
    ),
    ("empty-list", standard([]), 422, "at least one event"),
    ("a-string", standard("models.updated"), 422, "expected an event"),
    ("sw-missing-id", with_header("webhook-signature", "v1," + valid_b64), 401, "webhook-id"),
    ("sw-v1", standard(GOOD, signature="v1"), 401, "malformed v1"),
    ("sw-v1-comma", standard(GOOD, signature="v1,"), 401, "malformed v1"),
    ("sw-bad-base64", standard(GOOD, signature="v1,!!!!" + valid_b64[4:]), 401, "malformed v1"),
    ("sw-only-v2", standard(GOOD, signature="v2," + valid_b64), 401, "no v1"),
    ("sw-wrong-secret", standard(GOOD, secret="whsec_" + "A" * 32), 401, "does not match"),
    ("sw-other-body", (OTHER, standard(GOOD)[1]), 401, "does not match"),
    ("sw-six-minutes-old", standard(GOOD, offset_s=-360), 401, "too old"),
    ("sw-six-minutes-ahead", standard(GOOD, offset_s=360), 401, "too new"),
    ("sw-wrong-shape", standard(changed(models="x")), 422, "models"),
]


def sw_timestamp(value: str) -> tuple[bytes, dict[str, str]]:
    """Standard Webhooks headers whose timestamp header is ``value``."""
    body, headers = standard(GOOD)
    return body, {**headers, "webhook-timestamp": value}


BAD += [
    (f"sw-timestamp-{value!r}", sw_timestamp(value), 401, "integer")
    for value in ("1767225600.5", "abc", "-1", "1e9", " 1767225600")
]


@pytest.mark.parametrize(
    ("request_", "status", "detail"),
    [pytest.param(request_, status, detail, id=name) for name, request_, status, detail in BAD],
)
async def test_bad_delivery_is_refused_and_changes_nothing(
    service: Service, request_: tuple[bytes, dict[str, str]], status: int, detail: str
) -> None:
    """Each bad input is its 4xx with a reason; nothing is recorded, invalidated or synced."""
    body, headers = request_
    response = await service.post_webhook(body, headers)
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["status"] == "rejected"
    assert detail in answer["detail"]
    assert PLAIN_SECRET not in response.text
    assert WHSEC[6:] not in response.text
    await assert_nothing_changed(service)
    assert service.services.receiver.describe()["rejected"] == {str(status): 1}


async def chunks(size: int, *, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    """``size`` bytes of JSON-ish padding, streamed without a Content-Length."""
    sent = 0
    while sent < size:
        part = min(chunk, size - sent)
        sent += part
        yield b" " * part


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
async def test_body_over_one_mib_is_413(service: Service, streamed: bool) -> None:
    """One byte over 1 MiB is refused, declared or streamed, even with a valid signature."""
    body = GOOD + b" " * (MIB + 1 - len(GOOD))
    headers = seed_headers(body)
    content: Any = body
    if streamed:

        async def stream() -> AsyncIterator[bytes]:
            yield GOOD
            async for part in chunks(MIB + 1 - len(GOOD)):
                yield part

        content = stream()
    response = await service.client.post(WEBHOOK, content=content, headers=headers)
    assert response.status_code == 413
    assert "1048576" in response.json()["detail"]
    await assert_nothing_changed(service)


async def test_body_of_exactly_one_mib_is_accepted(service: Service) -> None:
    """The limit itself is inside: a signed 1 MiB body (padded JSON) is accepted."""
    body = GOOD + b" " * (MIB - len(GOOD))
    response = await service.post_webhook(body, seed_headers(body))
    assert response.status_code == 202, response.text


async def test_no_secret_configured_fails_closed(tmp_path: Path) -> None:
    """Without MODEL_WEBHOOK_SECRET every delivery is refused, however it is signed."""
    async with open_service(tmp_path, webhook_secret=None) as service:
        for body, headers in (signed(event(CLOCK)), standard(GOOD)):
            response = await service.post_webhook(body, headers)
            assert response.status_code == 401
            assert response.json()["detail"] == "no webhook secret configured"
        described = (await service.client.get(WEBHOOK)).json()
        assert described["secret_configured"] is False
        await assert_nothing_changed(service)


async def test_get_describes_the_endpoint_and_never_the_secret(service: Service) -> None:
    """GET says active, the events, the schemes, whether a secret is set, and nothing secret."""
    response = await service.client.get(WEBHOOK)
    assert response.status_code == 200
    described = response.json()
    assert described["active"] is True
    assert described["secret_configured"] is True
    assert described["events"] == [
        "models.added", "models.updated", "models.removed", "gateway.status_changed"
    ]  # fmt: skip
    assert [scheme["configured"] for scheme in described["schemes"]] == [True, True]
    for secret in (PLAIN_SECRET, WHSEC, WHSEC.removeprefix("whsec_")):
        assert secret not in response.text


# -- accepted deliveries -----------------------------------------------------------------------


async def test_accepted_event_is_recorded_and_verified_by_one_webhook_sync(
    service: Service,
) -> None:
    """202; the delivery shows in the status; one sync runs and its changes say "webhook"."""
    await service.sync("groq")
    added = mutate(service.simulator, {"gateway": "groq", "op": "add"})["model_id"]
    since = (await service.client.get("/api/changes", params={"limit": 1000})).json()["next"]
    body, headers = signed(event(CLOCK, event_type="models.added", models=(added,)))
    response = await service.post_webhook(body, headers)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["status"], answer["scheme"], answer["events"], answer["models"]) == (
        "accepted", "hmac-sha256", 1, 1
    )  # fmt: skip
    assert answer["sync_requested"] == ["groq"]
    await eventually(lambda: service.transport.requests["groq"] == 2)
    await service.idle()
    webhook_runs = [
        run for run in await service.runs("groq") if run.record.trigger is ChangeSource.WEBHOOK
    ]
    assert len(webhook_runs) == 1
    assert webhook_runs[0].record.added == 1
    news = (await service.client.get("/api/changes", params={"since": since})).json()["changes"]
    assert [(c["gateway_model_id"], c["kind"], c["source"]) for c in news] == [
        (added, "added", "webhook")
    ]
    await service.deliveries(1)  # the record is written behind the answer, within milliseconds
    status = (await service.client.get("/api/sync/status", params={"gateway": "groq"})).json()
    assert status["gateways"][0]["last_webhook"] == {
        "received_at": START.isoformat(),
        "event_types": ["models.added"],
        "models": 1,
        "scheme": "hmac-sha256",
        "process": service.services.runtime.owner,  # who accepted it (issue 11: verified once)
    }
    manifest = service.services.manifest
    canonical = news[0]["id"]  # the raw id as groq's adapter identifies it
    assert manifest.invalidated_at(f"model:{canonical}") == START
    assert manifest.invalidated_at("models:all") == START


async def test_deliveries_during_a_sync_coalesce_into_one_follow_up(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delivery starts a sync; three more while it runs share ONE follow-up run.

    (Hints may fold together before they reach the scheduler; whatever reaches it while the
    gateway runs waits on the same follow-up.)
    """
    scheduler = service.services.scheduler
    trigger = scheduler.trigger
    futures: list[asyncio.Future[RunSummary] | None] = []

    async def recording(name: str, **options: Any) -> asyncio.Future[RunSummary] | None:
        future = await trigger(name, **options)
        futures.append(future)
        return future

    monkeypatch.setattr(scheduler, "trigger", recording)
    mutate(service.simulator, {"gateway": "groq", "op": "add"})
    service.transport.hold("groq")
    first = await service.post_webhook(*signed(event(CLOCK)))
    assert first.status_code == 202
    await eventually(lambda: service.transport.waiting["groq"] == 1)
    for offset in (1, 2, 3):
        later = await service.post_webhook(*signed(event(CLOCK, offset_s=offset)))
        assert later.status_code == 202
    await eventually(lambda: len(futures) >= 2)  # hints may fold together before a trigger
    await asyncio.sleep(0.05)
    assert futures[0] is not None
    assert futures[1] is not futures[0]
    assert all(future is futures[1] for future in futures[1:])
    service.transport.release("groq")
    await eventually(lambda: all(future is not None and future.done() for future in futures))
    await service.idle()
    runs = await service.runs("groq")
    assert [run.record.trigger for run in runs] == [ChangeSource.WEBHOOK] * 2
    assert service.transport.requests["groq"] == 2
    changes = (await service.client.get("/api/changes")).json()["changes"]
    assert [(change["kind"], change["source"]) for change in changes][-1] == ("added", "webhook")


@pytest.mark.parametrize("scheme", ["seed", "standard"])
async def test_replayed_delivery_is_a_200_duplicate_processed_once(
    service: Service, scheme: str
) -> None:
    """The same delivery again answers 200 duplicate; it is recorded and synced once."""
    body, headers = signed(event(CLOCK)) if scheme == "seed" else standard(event(CLOCK))
    assert (await service.post_webhook(body, headers)).status_code == 202
    replay = await service.post_webhook(body, headers)
    assert replay.status_code == 200
    assert replay.json()["status"] == "duplicate"
    await eventually(lambda: service.transport.requests["groq"] == 1)
    await service.idle()
    await asyncio.sleep(0.05)
    await service.deliveries(1)
    assert len(await service.runs("groq")) == 1
    described = service.services.receiver.describe()
    assert (described["accepted"]["deliveries"], described["duplicates"]) == (1, 1)


async def test_several_signatures_one_valid_is_accepted(service: Service) -> None:
    """Decoys (a wrong v1, a v2, junk) beside one valid v1 signature: accepted."""
    body, headers = standard(GOOD)
    decoys = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,abc v1,!!"
    headers["webhook-signature"] = f"{decoys} {headers['webhook-signature']}"
    response = await service.post_webhook(body, headers)
    assert response.status_code == 202, response.text
    assert response.json()["scheme"] == "standard-webhooks"


async def test_rotation_accepts_each_configured_secret(tmp_path: Path) -> None:
    """Two plain and two whsec_ secrets configured: a delivery signed with any one passes."""
    plain = ("old-plain-secret", "new-plain-secret")
    whsec = (WHSEC, "whsec_" + "QUJD" * 8)
    async with open_service(tmp_path, webhook_secret=" ".join(plain + whsec)) as service:
        for number, secret in enumerate(plain):
            body = body_of(event(CLOCK, offset_s=number))
            response = await service.post_webhook(body, seed_headers(body, secret=secret))
            assert response.status_code == 202, response.text
        for number, secret in enumerate(whsec):
            body, headers = standard(GOOD, secret=secret, msg_id=f"msg_{number}")
            assert (await service.post_webhook(body, headers)).status_code == 202
        refused = await service.post_webhook(GOOD, seed_headers(GOOD, secret=PLAIN_SECRET))
        assert refused.status_code == 401
        await service.deliveries(4)


async def test_a_list_of_events_for_two_gateways(service: Service) -> None:
    """A JSON list of events is one delivery that syncs each named gateway once."""
    events = [
        event(CLOCK),
        event(CLOCK, gateway="gemini", event_type="models.removed", models=("g/one",)),
        event(CLOCK, event_type="gateway.status_changed", models=()),
    ]
    response = await service.post_webhook(*signed(events))
    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["events"], answer["models"]) == (3, 2)
    assert answer["gateways"] == ["groq", "google"]
    await eventually(lambda: service.transport.requests["google"] > 0)
    await service.idle()
    assert sorted(run.record.gateway for run in await service.runs()) == ["google", "groq"]
    assert service.services.manifest.path_invalidated_at("/status") == START


async def test_one_event_with_5000_models(service: Service) -> None:
    """A 5,000-model event is accepted; every model's tag is invalidated; one sync runs."""
    ids = tuple(f"vendor/model-{number}" for number in range(5000))
    response = await service.post_webhook(*signed(event(CLOCK, models=ids)))
    assert response.status_code == 202, response.text
    assert response.json()["models"] == 5000
    # the models, their gateway, search and the status (tag and page)
    assert response.json()["invalidated"] == {"tags": 5003, "paths": 5002}
    manifest = service.services.manifest
    assert all(manifest.invalidated_at(f"model:{model_id}") == START for model_id in ids)
    await eventually(lambda: service.transport.requests["groq"] == 1)
    await service.idle()
    assert len(await service.runs("groq")) == 1


async def test_open_breaker_refuses_the_verification_sync(service: Service) -> None:
    """A failing gateway's open breaker takes the delivery but starts no sync."""
    service.simulator.gateway("groq").faults.append(
        parse_fault({"kind": "http_500"}, gateway="groq")
    )
    for _ in range(3):
        await service.sync("groq")
    response = await service.post_webhook(*signed(event(CLOCK)))
    assert response.status_code == 202
    await asyncio.sleep(0.05)
    assert service.services.scheduler.running() == []
    assert len(await service.runs("groq")) == 3
    await service.deliveries(1)


# -- over a real socket ------------------------------------------------------------------------


async def test_over_real_http_chunked_413_and_accepted(tmp_path: Path) -> None:
    """Under uvicorn: a chunked body over the limit is a 413; a signed delivery is accepted."""
    clock = ManualClock(START)
    app = create_app(
        service_settings(tmp_path), clock=clock, transport=GatedTransport(simulator_app())
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(lambda: server.started)
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            headers = seed_headers(GOOD)
            too_big = await client.post(WEBHOOK, content=chunks(2 * MIB), headers=headers)
            declared = await client.post(WEBHOOK, content=GOOD + b" " * MIB, headers=headers)
            accepted = await client.post(WEBHOOK, content=GOOD, headers=headers)
            ready = await client.get("/readyz")
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()
    assert too_big.status_code == 413
    assert declared.status_code == 413
    assert accepted.status_code == 202, accepted.text
    assert ready.status_code == 200


async def test_last_webhook_outlives_the_dedupe_window(service: Service) -> None:
    """The status keeps showing a gateway's last webhook after the dedupe window has passed."""
    assert (await service.post_webhook(*signed(event(CLOCK)))).status_code == 202
    await service.deliveries(1)
    service.clock.advance(3601)  # past the window and the next housekeeping: a prune runs
    await service.deliveries(0)
    await service.idle()
    status = (await service.client.get("/api/sync/status", params={"gateway": "groq"})).json()
    assert status["gateways"][0]["last_webhook"] is not None
