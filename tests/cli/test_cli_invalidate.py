"""``modelsync invalidate`` (issue 8 item 2): both request forms, in this process (the shared
Redis cache) and against a real ``modelsync serve`` (``--remote``)."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from conftest import REDIS_URL, service_unavailable
from modelsync.cache.redis import RedisResponseCache
from modelsync.clock import SystemClock
from service_process import BIN, clean_environment, serve_process, simulator

TOKEN = "admin-token-for-cli-invalidate-0123"
MODEL = "openai/gpt-oss-120b"


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with simulator() as base:
        yield base


def environment(tmp_path: Path, upstream: str, **extra: str) -> dict[str, str]:
    settings = {
        "MODELSYNC_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "MODELSYNC_UPSTREAM": upstream,
        "MODELSYNC_ADMIN_TOKEN": TOKEN,
    }
    return clean_environment(**(settings | extra))


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "modelsync"), "invalidate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def synced(base: str) -> None:
    headers = {"authorization": f"Bearer {TOKEN}"}
    body = {"gateway": "openrouter"}
    answer = httpx.post(f"{base}/api/sync/models", json=body, headers=headers, timeout=60)
    assert answer.status_code == 200, answer.text


@pytest.mark.slow
def test_invalidate_on_a_running_server(tmp_path: Path, upstream: str) -> None:
    """``--remote``: each request form answers what it invalidated; bad input is one line."""
    env = environment(tmp_path, upstream)
    with serve_process(tmp_path, env) as served:
        synced(served.base)
        assert httpx.get(f"{served.base}/api/models/{MODEL}").status_code == 200
        done = run(
            env, "--type", "model-detail", "--model-id", MODEL, "--remote", served.base, "--json"
        )
        assert done.returncode == 0, done.stderr
        answer = orjson.loads(done.stdout)
        assert answer["invalidated"] == {"tags": [f"model:{MODEL}"], "paths": [f"/models/{MODEL}"]}
        assert answer["reason"] == "api"
        assert answer["purgers"] == []
        done = run(env, "--tag", "models:all", "--path", "/models", "--remote", served.base)
        assert done.returncode == 0, done.stderr
        assert "invalidated 1 tag(s), 1 path(s); purgers queued: none" in done.stdout
        assert "tag  models:all" in done.stdout
        wrong = environment(tmp_path, upstream, MODELSYNC_ADMIN_TOKEN="wrong-token-0123456789")
        refused = run(wrong, "--tag", "x", "--remote", served.base)
        assert refused.returncode == 2
        assert "MODELSYNC_ADMIN_TOKEN" in refused.stderr
        fresh = httpx.get(f"{served.base}/api/models/{MODEL}")
        assert fresh.status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give a type, or a non-empty list of tags or paths"),
        (["--type", "models", "--model-id", "a/b"], "type models takes no model_id"),
        (["--type", "nothing"], "type"),
        (["--tag", "a", "--type", "models"], "not both"),
        (["--type", "models", "--gateway", "nowhere"], "unknown gateway 'nowhere'"),
    ],
)
def test_bad_requests_are_one_line_and_change_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    env = clean_environment(MODELSYNC_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    done = run(env, *args)
    assert done.returncode == 2
    assert message in " ".join(done.stderr.split())
    assert done.stderr.startswith("error:")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "x.db").exists()


async def _entry(prefix: str, key: str) -> Any:
    cache = RedisResponseCache.from_url(REDIS_URL, SystemClock(), prefix=prefix)
    try:
        return await cache.get(key)
    finally:
        await cache.aclose()


async def _drop(prefix: str) -> None:
    cache = RedisResponseCache.from_url(REDIS_URL, SystemClock(), prefix=prefix)
    try:
        await cache.drop_all()
    finally:
        await cache.aclose()


@pytest.mark.redis
@pytest.mark.slow
def test_invalidate_here_reaches_a_server_through_redis(tmp_path: Path, upstream: str) -> None:
    """Without ``--remote``, the command invalidates the shared Redis cache: the server's
    cached answer is gone at once, and its next read is rebuilt."""
    prefix = f"test:cache:{uuid.uuid4().hex}"
    try:
        asyncio.run(_entry(prefix, "/probe"))
    except Exception as exc:  # noqa: BLE001
        service_unavailable("Redis", exc)
    env = environment(
        tmp_path, upstream, MODELSYNC_REDIS_URL=REDIS_URL, MODELSYNC_CACHE__REDIS_PREFIX=prefix
    )
    key = f"/api/models/{MODEL}"
    try:
        with serve_process(tmp_path, env) as served:
            synced(served.base)
            first = httpx.get(served.base + key)
            assert first.status_code == 200
            assert asyncio.run(_entry(prefix, key)) is not None
            done = run(env, "--type", "model-detail", "--model-id", MODEL, "--json")
            assert done.returncode == 0, done.stderr
            answer = orjson.loads(done.stdout)
            assert answer["cache"] == "redis"
            assert answer["invalidated"]["tags"] == [f"model:{MODEL}"]
            assert asyncio.run(_entry(prefix, key)) is None
            again = httpx.get(served.base + key)  # rebuilt (other gateways may have synced)
            assert again.status_code == 200
            assert again.json()["id"] == MODEL
            assert asyncio.run(_entry(prefix, key)) is not None
    finally:
        asyncio.run(_drop(prefix))
