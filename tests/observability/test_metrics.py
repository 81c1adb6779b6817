"""``GET /metrics`` of a real app: every family of issue 11 item 4, counted as runs happen."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import pytest
from prometheus_client import values
from prometheus_client.parser import text_string_to_metric_families

from modelsync.clock import SystemClock
from modelsync.config import PurgeSettings
from modelsync.observability import metrics as metric_hooks
from modelsync.observability.exposition import GatewayFamilies
from modelsync.observability.metrics import Metrics, metrics
from modelsync.purge import Purgers
from modelsync.simulator.faults import parse_fault
from purge.recorder import recording_server
from web.harness import Service, body_of, event, open_service, seed_headers

EXPECTED_FAMILIES = {
    "modelsync_sync_runs": "counter",
    "modelsync_sync_run_duration_seconds": "histogram",
    "modelsync_changes": "counter",
    "modelsync_upstream_requests": "counter",
    "modelsync_gateway_models": "gauge",
    "modelsync_gateway_breaker_state": "gauge",
    "modelsync_gateway_consecutive_failures": "gauge",
    "modelsync_webhook_deliveries": "counter",
    "modelsync_purge_calls": "counter",
    "modelsync_purge_queue_depth": "gauge",
    "modelsync_cache_hits": "counter",
    "modelsync_cache_misses": "counter",
    "modelsync_cache_invalidations": "counter",
    "modelsync_lease_acquisitions": "counter",
    "modelsync_lease_takeovers": "counter",
    "modelsync_lease_lost": "counter",
    "modelsync_catalog_version": "gauge",
    "modelsync_process_applied_catalog_version": "gauge",
    "modelsync_process_lag_versions": "gauge",
    "modelsync_process_lag_seconds": "gauge",
    "modelsync_build_info": "gauge",
}


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, parsed by prometheus-client's own parser."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def scrape(service: Service) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await service.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


def exercise_hooks() -> None:
    """Call each hook the read path and the purgers use, so their families have a sample."""
    metric_hooks.purge_call("nextjs", "ok")
    metric_hooks.purge_queue_depth("nextjs", 0)
    metric_hooks.cache_hit()
    metric_hooks.cache_miss()
    metric_hooks.cache_invalidation(tags=2)


async def test_every_family_is_served_with_its_type(service: Service) -> None:
    """All item 4 families are in the exposition, named by Prometheus' conventions."""
    await service.sync("groq")
    exercise_hooks()
    response = await service.client.get("/metrics")
    families = {f.name: f.type for f in text_string_to_metric_families(response.text)}
    for name, kind in EXPECTED_FAMILIES.items():
        assert families.get(name) == kind, name


async def test_a_run_counts_its_outcome_duration_changes_and_requests(service: Service) -> None:
    """One manual sync of groq: a changed run, its added models, one 200 from the upstream."""
    before = await scrape(service)
    report = await service.sync("groq")
    after = await scrape(service)
    added = report["gateways"][0]["added"]
    runs = "modelsync_sync_runs_total"
    assert (
        value(after, runs, gateway="groq", outcome="changed")
        - value(before, runs, gateway="groq", outcome="changed")
        == 1
    )
    assert value(after, "modelsync_changes_total", gateway="groq", kind="added") >= added > 0
    assert value(after, "modelsync_upstream_requests_total", gateway="groq", status="200") >= 1
    count = "modelsync_sync_run_duration_seconds_count"
    assert value(after, count, gateway="groq") - value(before, count, gateway="groq") == 1
    assert value(after, "modelsync_lease_acquisitions_total") > value(
        before, "modelsync_lease_acquisitions_total"
    )


async def test_gauges_follow_the_store_on_each_heartbeat(service: Service) -> None:
    """Models, breaker and failures per gateway, and this process's applied version and lag."""
    report = await service.sync("groq")
    await service.services.heartbeat.beat()
    found = await scrape(service)
    total = report["gateways"][0]["total_models"]
    assert value(found, "modelsync_gateway_models", gateway="groq") == total
    assert value(found, "modelsync_gateway_breaker_state", gateway="groq") == 0
    owner = service.services.runtime.owner
    version = report["catalog_version"]
    assert value(found, "modelsync_catalog_version") == version
    applied = "modelsync_process_applied_catalog_version"
    assert value(found, applied, process=owner) == version
    assert value(found, "modelsync_process_lag_versions", process=owner) == 0


async def test_failures_and_an_open_breaker_show_per_gateway(tmp_path: Path) -> None:
    """A gateway failing three times in a row: 3 consecutive failures, breaker open (2),
    and its 500s counted by status."""
    async with open_service(tmp_path) as service:
        service.simulator.gateway("groq").faults.append(
            parse_fault({"kind": "http_500"}, gateway="groq")
        )
        for _ in range(3):
            await service.sync("groq")
        await service.services.heartbeat.beat()
        found = await scrape(service)
    assert value(found, "modelsync_gateway_consecutive_failures", gateway="groq") == 3
    assert value(found, "modelsync_gateway_breaker_state", gateway="groq") == 2
    assert value(found, "modelsync_upstream_requests_total", gateway="groq", status="500") >= 3
    assert value(found, "modelsync_sync_runs_total", gateway="groq", outcome="failed") >= 3


async def test_webhook_deliveries_are_counted_by_outcome(service: Service) -> None:
    """Accepted, duplicate and unauthorized deliveries each have their count."""
    before = await scrape(service)
    body = body_of(event(service.clock))
    assert (await service.post_webhook(body, seed_headers(body))).status_code == 202
    assert (await service.post_webhook(body, seed_headers(body))).status_code == 200
    assert (await service.post_webhook(body, seed_headers(body, secret="wrong"))).status_code == 401
    after = await scrape(service)
    name = "modelsync_webhook_deliveries_total"
    for outcome in ("accepted", "duplicate", "unauthorized"):
        grew = value(after, name, outcome=outcome) - value(before, name, outcome=outcome)
        assert grew == 1, outcome


def test_gateway_lines_are_cached_until_their_values_change() -> None:
    """A gateway's rendered lines are reused until one of its values changes, and stay valid."""
    families = GatewayFamilies()
    families.run('odd"name\\x', "changed", 0.3)
    families.state("groq", models=10, breaker="open", failures=3)
    first = families.render()
    assert families.render() == first
    families.run("groq", "not_modified", 0.01)
    second = families.render().decode()
    found = samples(second)
    assert value(found, "modelsync_sync_runs_total", gateway='odd"name\\x', outcome="changed") == 1
    assert value(found, "modelsync_sync_runs_total", gateway="groq", outcome="not_modified") == 1
    assert (
        value(found, "modelsync_sync_run_duration_seconds_bucket", gateway="groq", le="0.05") == 1
    )
    assert value(found, "modelsync_gateway_breaker_state", gateway="groq") == 2


def test_multiprocess_mode_merges_the_workers_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With PROMETHEUS_MULTIPROC_DIR the same families come from prometheus-client's files."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(values, "ValueClass", values.get_value_class())
    shared = Metrics(multiprocess_dir=str(tmp_path))
    shared.run_finished("groq", "changed", 0.2)
    shared.gateway_state("groq", models=7, breaker="closed", failures=0)
    shared.webhook_delivery(202)
    found = samples(shared.render().decode())
    assert value(found, "modelsync_sync_runs_total", gateway="groq", outcome="changed") == 1
    assert value(found, "modelsync_gateway_models", gateway="groq") == 7
    assert value(found, "modelsync_webhook_deliveries_total", outcome="accepted") == 1
    assert any(path.suffix == ".db" for path in tmp_path.iterdir())


def test_the_process_has_one_set_of_metrics() -> None:
    """Hooks and the app share one :class:`Metrics` (what ``/metrics`` renders)."""
    assert metrics() is metrics()


def test_the_gzip_exposition_is_one_member_of_the_same_text() -> None:
    """Cached deflated segments joined into one gzip member decode to the plain text, before
    and after a gateway's values change; and /metrics is much smaller that way."""
    served = Metrics()
    for number in range(300):
        served.run_finished(f"gw-{number}", "changed", 0.2)
        served.gateway_state(f"gw-{number}", models=number, breaker="closed", failures=0)
    for _ in range(2):
        packed = served.render(gzip=True)
        assert gzip.decompress(packed) == served.render()
        assert len(packed) * 5 < len(served.render())
        served.run_finished("gw-150", "failed", 3.0)
        served.webhook_delivery(202)


async def test_metrics_are_gzipped_for_a_scraper_that_asks(service: Service) -> None:
    """``Accept-Encoding: gzip`` (Prometheus sends it): a gzip body, decoded by the client."""
    await service.sync("groq")
    response = await service.client.get("/metrics", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert "modelsync_sync_runs_total" in response.text


async def test_the_response_cache_counts_hits_misses_and_invalidations(service: Service) -> None:
    """A read twice: a miss then a hit; a sync that changes groq: invalidations counted."""
    before = await scrape(service)
    await service.sync("groq")
    for _ in range(2):
        assert (await service.client.get("/api/models", params={"gateway": "groq"})).is_success
    after = await scrape(service)

    def grew(name: str) -> float:
        return sum(v for (n, _), v in after.items() if n == name) - sum(
            v for (n, _), v in before.items() if n == name
        )

    assert grew("modelsync_cache_misses_total") >= 1
    assert grew("modelsync_cache_hits_total") >= 1
    assert grew("modelsync_cache_invalidations_total") >= 1


async def test_purge_calls_and_queue_depth_follow_the_purgers(service: Service) -> None:
    """A real purger against a local server answering 500 then 200, and one that always
    answers 400: ``ok``, ``retried`` and ``failed`` calls counted, the queue back to 0."""
    quick = {"attempts": 3, "backoff_base_s": 0.01, "backoff_cap_s": 0.05, "timeout_s": 5.0}
    calls = "modelsync_purge_calls_total"
    with recording_server() as recorder:
        recorder.script("/ok", [500, 200])
        recorder.script("/refused", [400])
        before = await scrape(service)
        for path in ("/ok", "/refused"):
            configured = PurgeSettings.model_validate(
                quick | {"nextjs_url": recorder.base + path, "nextjs_secret": "s3cret-value"}
            )
            async with httpx.AsyncClient() as client:
                purgers = Purgers.from_settings(configured, client, SystemClock())
                purgers.start()
                try:
                    assert purgers.enqueue(["models:all"], []) == ["nextjs"]
                    assert await purgers.workers[0].drained(20)
                finally:
                    await purgers.stop()
        after = await scrape(service)
    for outcome in ("ok", "retried", "failed"):
        grew = value(after, calls, purger="nextjs", outcome=outcome) - value(
            before, calls, purger="nextjs", outcome=outcome
        )
        assert grew == 1, outcome
    assert value(after, "modelsync_purge_queue_depth", purger="nextjs") == 0
