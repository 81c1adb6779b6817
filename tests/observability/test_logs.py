"""Logs of a real ``modelsync serve`` (issue 11 item 7): JSON off a terminal, every line of a run
bound to its run_id and gateway, one summary line per run, DEBUG request logs, and no secret
(gateway key, admin token, webhook secret, Sentry DSN) anywhere in them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from modelsync.webhooks.signing import sign_hex
from observability.collectors import SENTRY_KEY, sentry_server
from service_process import clean_environment, serve_process, simulator, wait_for

GROQ_KEY = "gsk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
ADMIN_TOKEN = "admin-7c1f0d9e8b2a4c6e8f0a1b3c5d7e9f11"
WEBHOOK_SECRET = "hook-3e5a7c9b1d2f4a6c8e0b2d4f6a8c0e1f"

pytestmark = pytest.mark.slow


def lines_of(text: str) -> list[dict[str, Any]]:
    """Each log line parsed as JSON (the test fails on a line that is not); the one line that
    announces the listening address (for people, issue 7 item 7) is not a log line."""
    return [
        orjson.loads(line)
        for line in text.splitlines()
        if line.strip() and not line.startswith("modelsync serve: listening on http://")
    ]


@pytest.mark.timeout(90)
def test_a_run_logs_json_bound_to_its_run_and_never_a_secret(tmp_path: Path) -> None:
    """A manual sync and a webhook on a DEBUG server with every secret configured."""
    with simulator() as upstream, sentry_server() as (dsn, _):
        env = clean_environment(
            MODELSYNC_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'logs.db'}",
            MODELSYNC_UPSTREAM=upstream,
            MODELSYNC_LOG_LEVEL="DEBUG",
            MODELSYNC_ADMIN_TOKEN=ADMIN_TOKEN,
            MODEL_WEBHOOK_SECRET=WEBHOOK_SECRET,
            GROQ_API_KEY=GROQ_KEY,
            SENTRY_DSN=dsn,
            MODELSYNC_HTTP__ATTEMPTS="1",
        )
        with serve_process(tmp_path, env) as served:
            admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
            answer = httpx.post(
                served.base + "/api/sync/models",
                json={"gateway": "groq"},
                headers=admin,
                timeout=30,
            )
            assert answer.status_code == 200
            body = orjson.dumps(
                {"gateway": "groq", "event_type": "models.updated",
                 "models": [{"id": "groq/compound", "name": "Compound"}],
                 "timestamp": int(time.time() * 1000)}
            )  # fmt: skip
            headers = {"x-webhook-signature": sign_hex(WEBHOOK_SECRET, body)}
            hook = httpx.post(
                served.base + "/api/webhooks/models-updated", content=body, headers=headers
            )
            assert hook.status_code == 202
            assert httpx.get(served.base + "/metrics").status_code == 200
            wait_for(
                lambda: '"trigger": "webhook"' in served.log(),
                timeout_s=30,
                what="the webhook's verification sync is logged",
            )
        text = served.log()
    for secret in (GROQ_KEY, ADMIN_TOKEN, WEBHOOK_SECRET, SENTRY_KEY, dsn):
        assert secret not in text
    lines = lines_of(text)
    summaries = [line for line in lines if line["event"] in ("sync.run", "sync.failing")]
    groq = {line["trigger"] for line in summaries if line["gateway"] == "groq"}
    assert {"manual", "webhook"} <= groq  # and polls of every gateway, from the start-up spread
    for line in summaries:
        assert {"run_id", "gateway", "outcome", "duration_ms", "bytes", "attempts"} <= set(line)
    gateway_of = {line["run_id"]: line["gateway"] for line in summaries}
    assert len(gateway_of) == len(summaries)  # one summary line per run
    fetches = [line for line in lines if line["event"] == "upstream_request"]
    assert fetches
    assert all(
        gateway_of.get(line["run_id"], line["gateway"]) == line["gateway"] for line in fetches
    )
    assert sum(line["run_id"] in gateway_of for line in fetches) >= len(summaries) // 2
    requests = [line for line in lines if line["event"] == "http_request"]
    assert {"/api/sync/models", "/metrics"} <= {line["path"] for line in requests}
