"""Prometheus metrics of one process, served at ``/metrics`` (DESIGN section 10, issue 11).

One :class:`Metrics` per process (:func:`metrics`); everything that counts calls it, through the
small functions below where the caller is not the runner:

=====================================================  =========================================
``modelsync_sync_runs_total{gateway,outcome}``         every finished run
``modelsync_sync_run_duration_seconds{gateway}``       histogram of run durations
``modelsync_changes_total{gateway,kind}``              changes applied (added/updated/...)
``modelsync_upstream_requests_total{gateway,status}``  each HTTP answer of a gateway (``error``
                                                       when none came: timeout, connection)
``modelsync_gateway_models{gateway}``                  models listed (from the store)
``modelsync_gateway_breaker_state{gateway}``           0 closed, 1 half-open, 2 open
``modelsync_gateway_consecutive_failures{gateway}``    failed runs in a row
``modelsync_webhook_deliveries_total{outcome}``        accepted, duplicate, invalid,
                                                       unauthorized, too_large, unavailable
``modelsync_purge_calls_total{purger,outcome}``        :func:`purge_call` (outbound purgers)
``modelsync_purge_queue_depth{purger}``                :func:`purge_queue_depth`
``modelsync_cache_{hits,misses,invalidations}_total``  :func:`cache_hit`, :func:`cache_miss`,
``{cache}``                                            :func:`cache_invalidation`
``modelsync_lease_acquisitions_total``                 leases taken (claims and manual runs)
``modelsync_lease_takeovers_total``                    leases taken from another process whose
                                                       lease had lapsed
``modelsync_lease_lost_total``                         runs that found their lease taken over
``modelsync_catalog_version``                          the store's catalog version
``modelsync_process_applied_catalog_version{process}`` what this process has applied
``modelsync_process_lag_versions{process}``            how many versions it is behind
``modelsync_process_lag_seconds{process}``             for how long it has been behind
``modelsync_build_info{version}``                      1
=====================================================  =========================================

``PROMETHEUS_MULTIPROC_DIR`` set (several workers behind one port): every value lives in
prometheus-client's shared files and ``/metrics`` merges them (its multiprocess collector).
Otherwise the per-gateway families are rendered from cached lines (:mod:`.exposition`), which
keeps a scrape of a thousand gateways in a millisecond or two.
"""

from __future__ import annotations

import gzip as gzip_module
import os
from contextvars import ContextVar
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from modelsync import __version__
from modelsync.observability import exposition
from modelsync.observability.exposition import RUN_BUCKETS, Block, GatewayFamilies, gzip_stream

CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST
CURRENT_GATEWAY: ContextVar[str | None] = ContextVar("modelsync_gateway", default=None)
"""The gateway whose run the current task is in (set by the run observer)."""

WEBHOOK_OUTCOMES = {
    200: "duplicate",
    202: "accepted",
    400: "invalid",
    401: "unauthorized",
    413: "too_large",
    422: "invalid",
    503: "unavailable",
}


class Metrics:
    """Every metric of this process."""

    def __init__(self, *, multiprocess_dir: str | None = None) -> None:
        prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
        self.multiprocess = bool(multiprocess_dir)
        self.registry = CollectorRegistry(auto_describe=False)
        self.gateways = GatewayFamilies()
        r = self.registry
        self.webhook_deliveries = Counter(
            "modelsync_webhook_deliveries",
            "Webhook deliveries by outcome.",
            ["outcome"],
            registry=r,
        )
        self.purge_calls = Counter(
            "modelsync_purge_calls",
            "Outbound purge calls by purger and outcome.",
            ["purger", "outcome"],
            registry=r,
        )
        self.purge_queue = Gauge(
            "modelsync_purge_queue_depth",
            "Purges waiting to be sent, per purger.",
            ["purger"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.cache_hits = Counter("modelsync_cache_hits", "Cache hits.", ["cache"], registry=r)
        self.cache_misses = Counter(
            "modelsync_cache_misses", "Cache misses (absent or stale).", ["cache"], registry=r
        )
        self.cache_invalidations = Counter(
            "modelsync_cache_invalidations", "Cache tags invalidated.", ["cache"], registry=r
        )
        self.lease_acquisitions = Counter(
            "modelsync_lease_acquisitions", "Gateway leases taken by this process.", registry=r
        )
        self.lease_takeovers = Counter(
            "modelsync_lease_takeovers",
            "Leases taken over from another process whose lease had lapsed.",
            registry=r,
        )
        self.lease_lost = Counter(
            "modelsync_lease_lost", "Runs that lost their lease to another process.", registry=r
        )
        self.catalog_version = Gauge(
            "modelsync_catalog_version",
            "The store's catalog version.",
            registry=r,
            multiprocess_mode="max",
        )
        self.applied_version = Gauge(
            "modelsync_process_applied_catalog_version",
            "The catalog version this process has applied (invalidated its caches for).",
            ["process"],
            registry=r,
            multiprocess_mode="all",
        )
        self.lag_versions = Gauge(
            "modelsync_process_lag_versions",
            "Catalog versions this process is behind the store.",
            ["process"],
            registry=r,
            multiprocess_mode="all",
        )
        self.lag_seconds = Gauge(
            "modelsync_process_lag_seconds",
            "For how long this process has been behind the store (0 when current).",
            ["process"],
            registry=r,
            multiprocess_mode="all",
        )
        build = Gauge(
            "modelsync_build_info",
            "The running version.",
            ["version"],
            registry=r,
            multiprocess_mode="max",
        )
        build.labels(__version__).set(1)
        self._mirror = _Mirror(r) if self.multiprocess else None

    # -- per gateway ----------------------------------------------------------------------

    def run_finished(self, gateway: str, outcome: str, duration_s: float) -> None:
        self.gateways.run(gateway, outcome, duration_s)
        if self._mirror:
            self._mirror.runs.labels(gateway, outcome).inc()
            self._mirror.duration.labels(gateway).observe(duration_s)

    def changes(self, gateway: str, kind: str, count: int) -> None:
        if count:
            self.gateways.changes(gateway, kind, count)
            if self._mirror:
                self._mirror.changes.labels(gateway, kind).inc(count)

    def upstream_request(self, gateway: str, status: str) -> None:
        self.gateways.upstream(gateway, status)
        if self._mirror:
            self._mirror.upstream.labels(gateway, status).inc()

    def gateway_state(self, gateway: str, *, models: int, breaker: str, failures: int) -> None:
        self.gateways.state(gateway, models=models, breaker=breaker, failures=failures)
        if self._mirror:
            self._mirror.models.labels(gateway).set(models)
            self._mirror.breaker.labels(gateway).set(exposition.BREAKER_VALUES.get(breaker, 0))
            self._mirror.failures.labels(gateway).set(failures)

    # -- the rest ---------------------------------------------------------------------------

    def webhook_delivery(self, status_code: int) -> None:
        self.webhook_deliveries.labels(WEBHOOK_OUTCOMES.get(status_code, "invalid")).inc()

    def process_lag(
        self, process: str, *, store_version: int, applied: int, behind_s: float
    ) -> None:
        self.catalog_version.set(store_version)
        self.applied_version.labels(process).set(applied)
        self.lag_versions.labels(process).set(max(0, store_version - applied))
        self.lag_seconds.labels(process).set(behind_s)

    def render(self, *, gzip: bool = False) -> bytes:
        """The exposition of ``/metrics``; gzip-compressed when asked (see :mod:`.exposition`)."""
        if self.multiprocess:
            merged = CollectorRegistry(auto_describe=False)
            MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
            text = generate_latest(merged)
            return gzip_module.compress(text, 6) if gzip else text
        head = generate_latest(self.registry)
        if not gzip:
            return head + self.gateways.render()
        return gzip_stream([Block.of(head), *self.gateways.blocks()])

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        """One sample of the prometheus-client families (tests)."""
        return self.registry.get_sample_value(name, labels or {})


class _Mirror:
    """The per-gateway families as prometheus-client metrics, for the multiprocess files."""

    def __init__(self, registry: CollectorRegistry) -> None:
        mostrecent: Any = "mostrecent"
        self.runs = Counter(
            "modelsync_sync_runs", exposition.RUNS.help, ["gateway", "outcome"], registry=registry
        )
        self.duration = Histogram(
            "modelsync_sync_run_duration_seconds",
            exposition.DURATION.help,
            ["gateway"],
            registry=registry,
            buckets=RUN_BUCKETS,
        )
        self.changes = Counter(
            "modelsync_changes", exposition.CHANGES.help, ["gateway", "kind"], registry=registry
        )
        self.upstream = Counter(
            "modelsync_upstream_requests",
            exposition.UPSTREAM.help,
            ["gateway", "status"],
            registry=registry,
        )
        self.models = Gauge(
            "modelsync_gateway_models",
            exposition.MODELS.help,
            ["gateway"],
            registry=registry,
            multiprocess_mode=mostrecent,
        )
        self.breaker = Gauge(
            "modelsync_gateway_breaker_state",
            exposition.BREAKER.help,
            ["gateway"],
            registry=registry,
            multiprocess_mode=mostrecent,
        )
        self.failures = Gauge(
            "modelsync_gateway_consecutive_failures",
            exposition.FAILURES.help,
            ["gateway"],
            registry=registry,
            multiprocess_mode=mostrecent,
        )


_METRICS: Metrics | None = None


def metrics() -> Metrics:
    """This process's metrics (built on first use, multiprocess when the variable says so)."""
    global _METRICS  # noqa: PLW0603 - one set of metrics per process, as Prometheus sees it
    if _METRICS is None:
        _METRICS = Metrics(multiprocess_dir=os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
    return _METRICS


# -- hook points for the read path and the purgers ------------------------------------------


def purge_call(purger: str, outcome: str) -> None:
    """One outbound purge call finished: ``outcome`` ``ok``, ``retried`` or ``failed``."""
    metrics().purge_calls.labels(purger, outcome).inc()


def purge_queue_depth(purger: str, depth: int) -> None:
    """How many purges ``purger`` has waiting right now."""
    metrics().purge_queue.labels(purger).set(depth)


def cache_hit(cache: str = "local") -> None:
    metrics().cache_hits.labels(cache).inc()


def cache_miss(cache: str = "local") -> None:
    metrics().cache_misses.labels(cache).inc()


def cache_invalidation(cache: str = "local", tags: int = 1) -> None:
    """``tags`` tags invalidated in ``cache`` (``local``, ``redis``, ...)."""
    metrics().cache_invalidations.labels(cache).inc(tags)


def upstream_request(status: int | str) -> None:
    """An HTTP answer (or ``"error"``) from the gateway of the run in progress."""
    metrics().upstream_request(CURRENT_GATEWAY.get() or "unknown", str(status))


def lease_taken(*, takeover: bool = False) -> None:
    m = metrics()
    m.lease_acquisitions.inc()
    if takeover:
        m.lease_takeovers.inc()


def lease_lost() -> None:
    metrics().lease_lost.inc()
