"""The outbound purgers (issue 8 item 3) against a real local recording HTTP server: what each
sends (tags, batching, auth headers), retries after a 500, the give-up after the retry budget,
a 4xx not retried, a timeout, the bounded queue, and one-line refusals of a bad configuration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from modelsync.clock import SystemClock
from modelsync.config import PurgeSettings
from modelsync.errors import ConfigError
from modelsync.purge import Purgers, check_settings
from modelsync.purge.targets import gatewayz_requests
from purge.recorder import Recorder, recording_server

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with recording_server() as server:
        yield server


def purge_settings(**values: Any) -> PurgeSettings:
    quick = {"attempts": 3, "backoff_base_s": 0.01, "backoff_cap_s": 0.05, "timeout_s": 2.0}
    return PurgeSettings.model_validate(quick | values)


async def run(settings: PurgeSettings, tags: list[str], paths: list[str]) -> dict[str, Any]:
    """Start the purgers, queue the keys, wait until they are sent; the purgers' record."""
    async with httpx.AsyncClient() as client:
        purgers = Purgers.from_settings(settings, client, SystemClock())
        purgers.start()
        try:
            queued = purgers.enqueue(tags, paths)
            assert queued == [worker.name for worker in purgers.workers]
            for worker in purgers.workers:
                assert await worker.drained(20)
            return purgers.describe()
        finally:
            await purgers.stop()


async def test_nextjs_tags_contract(recorder: Recorder) -> None:
    settings = purge_settings(
        nextjs_url=recorder.base + "/api/revalidate", nextjs_secret="s3cret-value"
    )
    tags = ["model:openai/gpt-5", "models:gateway:groq", "models:all"]
    record = await run(settings, tags, ["/models", "/models/openai/gpt-5"])
    [call] = recorder.to("/api/revalidate")
    assert call.headers["authorization"] == "Bearer s3cret-value"
    assert call.headers["content-type"] == "application/json"
    assert orjson.loads(call.body) == {
        "tags": sorted(tags),
        "paths": ["/models", "/models/openai/gpt-5"],
    }
    nextjs = record["nextjs"]
    assert (nextjs["failures"], nextjs["sent_calls"], nextjs["queue_depth"]) == (0, 1, 0)
    assert nextjs["last_success_at"] is not None
    assert nextjs["last_failure_at"] is None


async def test_nextjs_gatewayz_contract(recorder: Recorder) -> None:
    settings = purge_settings(
        nextjs_url=recorder.base + "/api/cache/invalidate",
        nextjs_secret="s3cret-value",
        nextjs_contract="gatewayz",
    )
    await run(settings, ["model:openai/gpt-5", "models:gateway:groq", "rankings"], ["/x"])
    bodies = [orjson.loads(r.body) for r in recorder.to("/api/cache/invalidate")]
    assert bodies == [
        {"type": "model-detail", "modelId": "openai/gpt-5"},
        {"type": "models", "gateway": "groq"},
        {"type": "rankings"},
    ]
    many = [f"model:a/m{i}" for i in range(500)]
    assert gatewayz_requests(many) == [{"type": "all"}]


async def test_fastly_batches_of_256_soft(recorder: Recorder) -> None:
    settings = purge_settings(
        fastly_service_id="SVC123",
        fastly_token="fastly-token",
        fastly_soft=True,
        fastly_api_url=recorder.base,
    )
    tags = [f"model:author/m{i:04d}" for i in range(600)]
    await run(settings, tags, ["/ignored"])
    calls = recorder.to("/service/SVC123/purge")
    assert [len(c.headers["surrogate-key"].split(" ")) for c in calls] == [256, 256, 88]
    assert [k for c in calls for k in c.headers["surrogate-key"].split(" ")] == sorted(tags)
    assert {c.headers["fastly-key"] for c in calls} == {"fastly-token"}
    assert {c.headers["fastly-soft-purge"] for c in calls} == {"1"}
    assert {c.method for c in calls} == {"POST"}


async def test_cloudflare_batches_tags(recorder: Recorder) -> None:
    settings = purge_settings(
        cloudflare_zone="zone9",
        cloudflare_token="cf-token",
        cloudflare_api_url=recorder.base,
        cloudflare_batch=100,
    )
    tags = [f"model:author/m{i:04d}" for i in range(250)]
    await run(settings, tags, [])
    calls = recorder.to("/client/v4/zones/zone9/purge_cache")
    assert [len(orjson.loads(c.body)["tags"]) for c in calls] == [100, 100, 50]
    assert {c.headers["authorization"] for c in calls} == {"Bearer cf-token"}


async def test_retry_after_500_then_success(recorder: Recorder) -> None:
    recorder.script("/service/S/purge", [500, 503, 200])
    settings = purge_settings(fastly_service_id="S", fastly_token="t", fastly_api_url=recorder.base)
    record = (await run(settings, ["models:all"], []))["fastly"]
    assert len(recorder.to("/service/S/purge")) == 3
    assert (record["failures"], record["sent_calls"]) == (0, 1)
    assert record["last_success_at"] is not None


async def test_gives_up_after_the_budget_and_records_it(recorder: Recorder) -> None:
    recorder.script("/client/v4/zones/z/purge_cache", [500])
    settings = purge_settings(
        cloudflare_zone="z", cloudflare_token="t", cloudflare_api_url=recorder.base
    )
    record = (await run(settings, ["models:all"], []))["cloudflare"]
    assert len(recorder.to("/client/v4/zones/z/purge_cache")) == 3  # attempts=3
    assert (record["failures"], record["sent_calls"], record["queue_depth"]) == (1, 0, 0)
    assert record["last_failure_at"] is not None
    assert record["last_error"] == (
        f"HTTP 500 from {recorder.base}/client/v4/zones/z/purge_cache; gave up after 3 attempts"
    )
    assert "t" not in record["last_error"].split()  # no token in the record


async def test_4xx_is_not_retried(recorder: Recorder) -> None:
    recorder.script("/api/revalidate", [401])
    settings = purge_settings(nextjs_url=recorder.base + "/api/revalidate", nextjs_secret="x")
    record = (await run(settings, ["models:all"], []))["nextjs"]
    assert len(recorder.to("/api/revalidate")) == 1
    assert record["failures"] == 1
    assert record["last_error"].startswith("HTTP 401 from ")


async def test_timeout_is_a_recorded_failure(recorder: Recorder) -> None:
    recorder.delay_s = 1.0
    settings = purge_settings(
        nextjs_url=recorder.base + "/api/revalidate",
        nextjs_secret="x",
        timeout_s=0.1,
        attempts=2,
    )
    record = (await run(settings, ["models:all"], []))["nextjs"]
    assert record["failures"] == 1
    assert record["last_error"] == (
        f"ReadTimeout calling {recorder.base}/api/revalidate; gave up after 2 attempts"
    )


async def test_bounded_queue_refuses_and_records(recorder: Recorder) -> None:
    recorder.delay_s = 0.5
    settings = purge_settings(
        nextjs_url=recorder.base + "/api/revalidate", nextjs_secret="x", queue_size=5
    )
    async with httpx.AsyncClient() as client:
        purgers = Purgers.from_settings(settings, client, SystemClock())
        purgers.start()
        try:
            assert purgers.enqueue(["a", "b", "c"], []) == ["nextjs"]
            await asyncio.sleep(0.1)  # the worker took them: in flight, still counted
            assert purgers.describe()["nextjs"]["queue_depth"] == 3
            assert purgers.enqueue(["d", "e", "f"], []) == []  # 6 > 5: refused
            record = purgers.describe()["nextjs"]
            assert (record["refused_keys"], record["failures"]) == (3, 1)
            assert record["last_error"] == "queue full (5 keys): 3 keys refused"
            assert purgers.enqueue(["d"], ["/p"]) == ["nextjs"]
            assert await purgers.workers[0].drained(10)
        finally:
            await purgers.stop()
    assert [orjson.loads(r.body) for r in recorder.to("/api/revalidate")] == [
        {"tags": ["a", "b", "c"], "paths": []},
        {"tags": ["d"], "paths": ["/p"]},
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"nextjs_url": "ftp://front/api", "nextjs_secret": "x"},
            "MODELSYNC_PURGE__NEXTJS_URL must be an http(s) URL such as "
            "https://example.com/path (got 'ftp://front/api')",
        ),
        (
            {"nextjs_url": "https://front/api/revalidate"},
            "MODELSYNC_PURGE__NEXTJS_SECRET is not set: the Next.js purger sends it as the "
            "revalidate route's bearer token",
        ),
        (
            {"fastly_token": "t"},
            "MODELSYNC_PURGE__FASTLY_SERVICE_ID is not set: the Fastly purger needs it",
        ),
        (
            {"fastly_service_id": "S"},
            "MODELSYNC_PURGE__FASTLY_TOKEN is not set: Fastly needs an API token",
        ),
        (
            {"cloudflare_zone": "z", "cloudflare_token": "t", "cloudflare_api_url": "nope"},
            "MODELSYNC_PURGE__CLOUDFLARE_API_URL must be an http(s) URL such as "
            "https://example.com/path (got 'nope')",
        ),
    ],
)
def test_bad_configuration_is_one_line(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        check_settings(PurgeSettings.model_validate(values))
    assert str(refused.value) == message
    assert "\n" not in message


def test_nothing_configured_nothing_runs() -> None:
    assert check_settings(PurgeSettings()) == []
