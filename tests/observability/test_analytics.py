"""Analytics (issue 11 item 6) against a local server playing PostHog's batch capture API, and
to a JSON-lines file; a sink that is down never delays a run."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson

from modelsync.clock import ManualClock
from modelsync.observability.analytics import Analytics, JsonLinesSink
from modelsync.simulator.faults import parse_fault
from modelsync.simulator.mutations import mutate
from observability.collectors import Received, posthog_server
from web.harness import START, eventually, open_service

KEY = "phc_test_project_key_0123456789"


def events(received: Received) -> list[dict[str, Any]]:
    return [event for body in received.all() for event in body["batch"]]


def named(found: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [event for event in found if event["event"] == name]


async def test_runs_send_the_four_events_to_posthog_in_batches(tmp_path: Path) -> None:
    """Synced, added, removed, availability lost and regained: each event, with its counts."""
    with posthog_server() as (host, received):
        analytics = {"posthog_host": host, "posthog_key": KEY, "flush_interval_s": 0.05}
        async with open_service(tmp_path, analytics=analytics) as service:
            first = await service.sync("groq")
            removed = mutate(service.simulator, {"gateway": "groq", "op": "remove"})["model_id"]
            await service.sync("groq")  # missing once
            await service.sync("groq")  # removed
            service.simulator.gateway("groq").faults.append(
                parse_fault({"kind": "http_500", "times": 3}, gateway="groq")
            )
            for _ in range(3):
                await service.sync("groq")
            await service.sync("groq")  # recovered
            await eventually(
                lambda: len(named(events(received), "gateway availability changed")) == 2,
                within_s=10,
            )
    found = events(received)
    assert all(body["api_key"] == KEY for body in received.all())
    assert all(event["distinct_id"] == "gateway:groq" for event in found)
    synced = named(found, "models synced")
    outcomes = [event["properties"]["outcome"] for event in synced]
    assert outcomes == ["changed", "changed", "changed", "not_modified"]  # failed: not synced
    added = first["gateways"][0]["added"]
    assert synced[0]["properties"]["added"] == added
    assert {"duration_ms", "updated", "removed", "total_models", "trigger"} <= set(
        synced[0]["properties"]
    )
    (added_event,) = named(found, "models added")
    assert added_event["properties"]["count"] == added
    (removed_event,) = named(found, "models removed")
    assert removed_event["properties"]["count"] == 1
    assert removed_event["properties"]["model_ids"][0].endswith(removed.split("/")[-1].lower())
    availability = [e["properties"] for e in named(found, "gateway availability changed")]
    assert [(p["available"], p["status"]) for p in availability] == [
        (False, "failing"),
        (True, "ok"),
    ]


async def test_a_sink_that_is_down_never_delays_a_run(tmp_path: Path) -> None:
    """PostHog answering 503: runs take as long as without analytics; events wait and go out
    once it is back."""
    with posthog_server() as (host, received):
        received.status = 503
        analytics = {"posthog_host": host, "posthog_key": KEY, "flush_interval_s": 0.05}
        async with open_service(tmp_path, analytics=analytics) as service:
            started = time.monotonic()
            for gateway in ("groq", "cerebras", "xai"):
                await service.sync(gateway)
            assert time.monotonic() - started < 10
            await asyncio.sleep(0.2)
            assert received.all() == []
            received.status = 200
            await eventually(lambda: len(named(events(received), "models synced")) == 3)


async def test_events_go_to_a_json_lines_file(tmp_path: Path) -> None:
    """``MODELSYNC_ANALYTICS__FILE``: one JSON object a line, flushed at the latest at shutdown."""
    path = tmp_path / "events.jsonl"
    async with open_service(tmp_path, analytics={"file": str(path)}) as service:
        await service.sync("groq")
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [line["event"] for line in lines] == ["models synced", "models added"]
    assert lines[0]["properties"]["gateway"] == "groq"


async def test_the_queue_is_bounded_and_counts_what_it_dropped(tmp_path: Path) -> None:
    """A sink away for long: the oldest events go first, and are counted."""
    analytics = Analytics(
        JsonLinesSink(tmp_path / "never.jsonl"), ManualClock(START), process="p", max_queue=3
    )
    for index in range(5):
        analytics.capture("models synced", "groq", index=index)
    assert analytics.dropped == 2
    await analytics.flush()
    lines = (tmp_path / "never.jsonl").read_bytes().splitlines()
    assert [orjson.loads(line)["properties"]["index"] for line in lines] == [2, 3, 4]
