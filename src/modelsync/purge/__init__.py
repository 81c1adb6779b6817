"""Outbound purgers (issue 8 item 3): tell a Next.js front end, Fastly and Cloudflare what changed.

Each purger is optional and configured by ``MODELSYNC_PURGE__*`` (the README's table);
:func:`check_settings` refuses a bad configuration at start with one line (a URL that is not
http(s), a missing secret or token). :class:`Purgers` is the one entry point the rest of the
service uses::

    purgers.enqueue(tags, paths)     # never blocks, never awaits the network; returns the
                                     # names of the purgers that queued them

It is fed by the change feed (every committed change, missing mark and health change, whoever
committed it: :mod:`modelsync.bus`) and by explicit invalidations. Each purger has its own
bounded queue, batching, retries with backoff and jitter, a per-call timeout, and its record
(last success, last failure, queue depth, failure count) under ``"purgers"`` in
``GET /api/sync/status``. Outbound change webhooks go through the outbox instead
(:mod:`modelsync.purge.outbox`), so that a restart loses none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import httpx

from modelsync.cache.tags import Invalidation
from modelsync.clock import Clock
from modelsync.config import PurgeSettings
from modelsync.errors import ConfigError
from modelsync.purge.outbox import NAME as OUTBOX_NAME
from modelsync.purge.outbox import Outbox, check_subscribers
from modelsync.purge.targets import Backoff, CloudflareTarget, FastlyTarget, NextjsTarget, Target
from modelsync.purge.worker import PurgeWorker
from modelsync.store.sql import SqlStore

__all__ = ["PurgeWorker", "Purgers", "Target", "check_settings"]


def _http_url(variable: str, value: str) -> str:
    url = httpx.URL(value.strip()) if value.strip() else None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(
            f"{variable} must be an http(s) URL such as https://example.com/path "
            f"(got {value.strip()[:80]!r})"
        )
    return str(url)


def _secret(variable: str, value: Any, purpose: str) -> str:
    text = value.get_secret_value().strip() if value is not None else ""
    if not text:
        raise ConfigError(f"{variable} is not set: {purpose}")
    return text


def check_settings(settings: PurgeSettings) -> list[Target]:
    """The configured purgers' targets; a ConfigError (one line) for a bad configuration."""
    targets: list[Target] = []
    prefix = "MODELSYNC_PURGE__"
    if settings.nextjs_url or settings.nextjs_secret:
        url = _http_url(prefix + "NEXTJS_URL", settings.nextjs_url or "")
        secret = _secret(
            prefix + "NEXTJS_SECRET",
            settings.nextjs_secret,
            "the Next.js purger sends it as the revalidate route's bearer token",
        )
        targets.append(NextjsTarget(url, secret, settings.nextjs_contract))
    if settings.fastly_service_id or settings.fastly_token:
        service_id = (settings.fastly_service_id or "").strip()
        if not service_id:
            raise ConfigError(f"{prefix}FASTLY_SERVICE_ID is not set: the Fastly purger needs it")
        token = _secret(prefix + "FASTLY_TOKEN", settings.fastly_token, "Fastly needs an API token")
        api = _http_url(prefix + "FASTLY_API_URL", settings.fastly_api_url)
        targets.append(FastlyTarget(service_id, token, settings.fastly_soft, api))
    if settings.cloudflare_zone or settings.cloudflare_token:
        zone = (settings.cloudflare_zone or "").strip()
        if not zone:
            raise ConfigError(f"{prefix}CLOUDFLARE_ZONE is not set: the Cloudflare purger needs it")
        token = _secret(
            prefix + "CLOUDFLARE_TOKEN", settings.cloudflare_token, "Cloudflare needs an API token"
        )
        api = _http_url(prefix + "CLOUDFLARE_API_URL", settings.cloudflare_api_url)
        targets.append(CloudflareTarget(zone, token, api, settings.cloudflare_batch))
    check_subscribers(settings)
    return targets


class Purgers:
    """Every configured purger; :meth:`enqueue` hands tags and paths to each. The outbound
    change webhooks' :class:`~modelsync.purge.outbox.Outbox` (when given) starts, stops and
    reports with them."""

    def __init__(self, workers: list[PurgeWorker], outbox: Outbox | None = None) -> None:
        self.workers = workers
        self.outbox = outbox

    @classmethod
    def from_settings(
        cls,
        settings: PurgeSettings,
        client: httpx.AsyncClient,
        clock: Clock,
        *,
        store: SqlStore | None = None,
    ) -> Purgers:
        """The configured purgers; the outbox too when subscribers are configured and a
        ``store`` is given."""
        backoff = Backoff(settings.attempts, settings.backoff_base_s, settings.backoff_cap_s)
        subscribers = check_subscribers(settings)
        outbox = None
        if subscribers and store is not None:
            outbox = Outbox(
                store,
                subscribers,
                client,
                clock,
                backoff=backoff,
                timeout_s=settings.timeout_s,
                budget_s=settings.webhook_budget_s,
            )
        return cls(
            [
                PurgeWorker(
                    target,
                    client,
                    clock,
                    backoff=backoff,
                    timeout_s=settings.timeout_s,
                    queue_size=settings.queue_size,
                )
                for target in check_settings(settings)
            ],
            outbox,
        )

    def enqueue(self, tags: Iterable[str], paths: Iterable[str]) -> list[str]:
        """Queue the keys on every purger; the names of those that took them."""
        tags, paths = sorted(set(tags)), sorted(set(paths))
        if not (tags or paths):
            return []
        return [worker.name for worker in self.workers if worker.enqueue(tags, paths)]

    def enqueuers(self) -> dict[str, Callable[[Invalidation, str], bool]]:
        """Each purger's entry point for the invalidation hub
        (:meth:`modelsync.cache.hub.Invalidations.add_purger`): queues, never waits."""

        def entry(worker: PurgeWorker) -> Callable[[Invalidation, str], bool]:
            def enqueue(invalidation: Invalidation, reason: str) -> bool:
                return worker.enqueue(sorted(invalidation.tags), sorted(invalidation.paths))

            return enqueue

        return {worker.name: entry(worker) for worker in self.workers}

    def changed(self) -> None:
        """New changes committed: the outbox fills and delivers now."""
        if self.outbox is not None:
            self.outbox.wake()

    def start(self) -> None:
        for worker in self.workers:
            worker.start()
        if self.outbox is not None:
            self.outbox.start()

    async def stop(self) -> None:
        for worker in self.workers:
            await worker.stop()
        if self.outbox is not None:
            await self.outbox.stop()

    def describe(self) -> dict[str, Any]:
        described = {worker.name: worker.describe() for worker in self.workers}
        if self.outbox is not None and self.outbox.enabled:
            described[OUTBOX_NAME] = self.outbox.describe()
        return described
