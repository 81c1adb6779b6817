"""The official webhook vectors of ``shared/fixtures/webhooks/vectors.json``, sent over HTTP.

Each vector that can apply to the service is sent to ``POST /api/webhooks/models-updated`` of an
app whose clock is frozen at the vector's time and whose ``MODEL_WEBHOOK_SECRET`` is the vector's.
The vectors' payloads are not modelsync events, so a vector whose signature verifies is answered
with the error of the step after verification (422 for the shape, or 401 for the seed scheme's
missing body timestamp) and never "signature does not match"; the same secret, id and timestamp
then sign a real event, which is accepted. Not applicable: GitHub's docs vector (its secret holds
spaces, and ``MODEL_WEBHOOK_SECRET`` is space-separated) and the derived Stripe vector.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import shared_fixture
from modelsync.clock import ManualClock
from modelsync.webhooks.signing import sign_standard
from web.harness import Service, body_of, event, open_service, standard_headers

pytestmark = pytest.mark.shared_fixtures


def vector(entry_id: str) -> dict[str, Any]:
    """One official vector by id (the test skips when the recorded fixtures are absent)."""
    data = json.loads(shared_fixture("webhooks/vectors.json").read_text())
    for section in data.values():
        for entry in section if isinstance(section, list) else ():
            if entry["id"] == entry_id:
                assert entry["origin"] == "official"
                return dict(entry)
    raise AssertionError(f"no vector {entry_id!r}")


def frozen_at(seconds: int) -> ManualClock:
    """A clock stopped at a Unix time."""
    return ManualClock(datetime.fromtimestamp(seconds, UTC))


def vector_headers(signature: str, msg_id: str, timestamp: int) -> dict[str, str]:
    """Standard Webhooks headers as the vector gives them."""
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


async def test_standard_webhooks_sign_vector(tmp_path: Path) -> None:
    """sw-sign-1 verifies over HTTP (its payload then fails the shape); a real event passes."""
    entry = vector("sw-sign-1")
    clock = frozen_at(entry["timestamp"])
    async with open_service(tmp_path, clock=clock, webhook_secret=entry["secret"]) as service:
        headers = vector_headers(entry["expected_signature"], entry["msg_id"], entry["timestamp"])
        response = await service.post_webhook(entry["payload"].encode(), headers)
        assert response.status_code == 422, response.text
        assert "gateway: Field required" in response.json()["detail"]

        body = body_of(event(clock))
        signature = sign_standard(entry["secret"], entry["msg_id"], entry["timestamp"], body)
        accepted = await service.post_webhook(
            body, vector_headers(signature, entry["msg_id"], entry["timestamp"])
        )
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["id"] == entry["msg_id"]


async def test_standard_webhooks_negative_vector(tmp_path: Path) -> None:
    """sw-neg-1: one character off the official signature is a 401, nothing recorded."""
    base, entry = vector("sw-sign-1"), vector("sw-neg-1")
    clock = frozen_at(base["timestamp"])
    async with open_service(tmp_path, clock=clock, webhook_secret=base["secret"]) as service:
        headers = vector_headers(entry["must_not_verify"], base["msg_id"], base["timestamp"])
        response = await service.post_webhook(base["payload"].encode(), headers)
        assert response.status_code == 401
        assert response.json()["detail"] == "signature does not match"
        assert await service.services.runtime.store.list_deliveries() == []


async def test_standard_webhooks_multi_signature_vector(tmp_path: Path) -> None:
    """sw-multi: the decoys beside a valid v1 are skipped and it passes; decoys alone do not."""
    base, entry = vector("sw-sign-1"), vector("sw-multi")
    clock = frozen_at(base["timestamp"])
    decoys = " ".join(entry["decoys"])
    async with open_service(tmp_path, clock=clock, webhook_secret=base["secret"]) as service:
        body = body_of(event(clock))
        valid = standard_headers(body, clock, secret=base["secret"])
        alone = await service.post_webhook(body, {**valid, "webhook-signature": decoys})
        assert alone.status_code == 401
        for signatures in (
            f"{decoys} {valid['webhook-signature']}",
            f"{valid['webhook-signature']} {decoys}",
        ):
            headers = {**valid, "webhook-signature": signatures}
            response = await service.post_webhook(body, headers)
            assert response.status_code in (200, 202), response.text
        await service.deliveries(1)


async def test_standard_webhooks_unpadded_secrets_vector(tmp_path: Path) -> None:
    """sw-unpadded-secrets: each unpadded whsec_ secret, configured together, verifies its own."""
    entry = vector("sw-unpadded-secrets")
    clock = frozen_at(vector("sw-sign-1")["timestamp"])
    secrets = ["whsec_" + secret for secret in entry["secrets"]]
    async with open_service(tmp_path, clock=clock, webhook_secret=" ".join(secrets)) as service:
        body = body_of(event(clock))
        for number, secret in enumerate(secrets):
            headers = standard_headers(body, clock, secret=secret, msg_id=f"msg_{number}")
            response = await service.post_webhook(body, headers)
            assert response.status_code == 202, (secret, response.text)


async def test_standard_webhooks_tolerance_vector(tmp_path: Path) -> None:
    """sw-tolerance: the window's edges pass; one second beyond either edge is a 401."""
    tolerance = vector("sw-tolerance")["tolerance_seconds"]
    clock = frozen_at(vector("sw-sign-1")["timestamp"])
    async with open_service(tmp_path, clock=clock) as service:
        body = body_of(event(clock))
        for number, offset in enumerate((-tolerance, tolerance)):
            headers = standard_headers(body, clock, msg_id=f"edge_{number}", offset_s=offset)
            assert (await service.post_webhook(body, headers)).status_code == 202
        for offset, why in ((-tolerance - 1, "too old"), (tolerance + 1, "too new")):
            headers = standard_headers(body, clock, msg_id="late", offset_s=offset)
            response = await service.post_webhook(body, headers)
            assert response.status_code == 401
            assert why in response.json()["detail"]


@pytest.mark.parametrize("entry_id", ["octokit-sign", "octokit-verify"])
async def test_hex_vectors_verify_over_http(tmp_path: Path, entry_id: str) -> None:
    """octokit's sha256= headers verify (in any hex case); the body then lacks a timestamp."""
    entry = vector(entry_id)
    async with open_service(tmp_path, webhook_secret=entry["secret"]) as service:
        digest = entry["expected_header"].removeprefix("sha256=")
        for header in (entry["expected_header"], digest, "sha256=" + digest.upper()):
            headers = {"content-type": "application/json", "x-webhook-signature": header}
            response = await service.post_webhook(entry["payload"].encode(), headers)
            assert response.status_code == 401
            assert response.json()["detail"] == "no timestamp in the signed body"
        await assert_no_delivery(service)


async def test_hex_negative_vectors(tmp_path: Path) -> None:
    """octokit-neg: its rejected headers are malformed here: 401, nothing recorded."""
    entry = vector("octokit-neg")
    async with open_service(tmp_path, webhook_secret=entry["secret"]) as service:
        for header in entry["must_not_verify"]:
            headers = {"content-type": "application/json", "x-webhook-signature": header}
            response = await service.post_webhook(entry["payload"].encode(), headers)
            assert response.status_code == 401
            assert "malformed" in response.json()["detail"]
        await assert_no_delivery(service)


async def assert_no_delivery(service: Service) -> None:
    """Nothing was recorded."""
    assert await service.services.runtime.store.list_deliveries() == []
