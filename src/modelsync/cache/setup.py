"""The response cache a process runs with, from its settings (``MODELSYNC_CACHE__*``)."""

from __future__ import annotations

from modelsync.cache.base import CacheBackend
from modelsync.cache.lru import MemoryResponseCache
from modelsync.cache.memory import MemoryTagManifest
from modelsync.cache.responses import CachePolicy, ResponseCache
from modelsync.clock import Clock
from modelsync.config import Settings
from modelsync.errors import ConfigError


def cache_backend(settings: Settings, clock: Clock, manifest: MemoryTagManifest) -> CacheBackend:
    """Redis when configured (or ``auto`` and ``MODELSYNC_REDIS_URL`` set), else in-process."""
    cache = settings.cache
    use_redis = cache.backend == "redis" or (cache.backend == "auto" and settings.redis_url)
    if not use_redis:
        return MemoryResponseCache(clock, manifest=manifest, max_bytes=cache.max_bytes)
    if not settings.redis_url:
        raise ConfigError(
            "MODELSYNC_CACHE__BACKEND=redis needs MODELSYNC_REDIS_URL (redis://host:port/db)"
        )
    if not settings.redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            "MODELSYNC_REDIS_URL must start with redis://, rediss:// or unix:// "
            "(e.g. redis://127.0.0.1:6379/0)"
        )
    from modelsync.cache.redis import RedisResponseCache  # noqa: PLC0415 - only when used

    return RedisResponseCache.from_url(
        settings.redis_url, clock, prefix=cache.redis_prefix, ttl_s=cache.ttl_s
    )


def response_cache(settings: Settings, clock: Clock, manifest: MemoryTagManifest) -> ResponseCache:
    """The process's :class:`ResponseCache` (disabled: every answer built, nothing stored)."""
    cache = settings.cache
    policy = CachePolicy(
        max_age_s=cache.max_age_s,
        s_maxage_s=cache.s_maxage_s,
        stale_while_revalidate_s=cache.stale_while_revalidate_s,
    )
    return ResponseCache(cache_backend(settings, clock, manifest), policy, enabled=cache.enabled)
