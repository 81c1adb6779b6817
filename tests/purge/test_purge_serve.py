"""Purgers in a real ``modelsync serve``: fed by the change feed (a ``modelsync sync`` in another
process reaches the front end's revalidate route), reported in ``/api/sync/status``, and a bad
configuration refused at start with one line."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from purge.recorder import Recorder, recording_server
from service_process import BIN, clean_environment, serve_process, simulator, wait_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with recording_server() as server:
        yield server


def test_cli_sync_purges_through_a_serving_process(recorder: Recorder, tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'purge.db'}"
    with simulator() as upstream:
        env = clean_environment(
            MODELSYNC_DATABASE_URL=database,
            MODELSYNC_UPSTREAM=upstream,
            MODELSYNC_PURGE__NEXTJS_URL=recorder.base + "/api/revalidate",
            MODELSYNC_PURGE__NEXTJS_SECRET="front-secret",
            MODELSYNC_PURGE__FASTLY_SERVICE_ID="SVC",
            MODELSYNC_PURGE__FASTLY_TOKEN="fastly-token",
            MODELSYNC_PURGE__FASTLY_API_URL=recorder.base,
            MODELSYNC_SCHEDULER__INTERVALS_S='{"high": 86400, "medium": 86400, "low": 86400}',
        )
        with serve_process(tmp_path, env) as served:
            status = httpx.get(served.base + "/api/sync/status", timeout=10).json()
            before = len(recorder.to("/api/revalidate"))
            assert set(status["purgers"]) == {"nextjs", "fastly"}
            sync_env = clean_environment(
                MODELSYNC_DATABASE_URL=database, MODELSYNC_UPSTREAM=upstream
            )
            httpx.post(
                upstream + "/_admin/mutate", json={"gateway": "groq", "op": "add"}, timeout=5
            )
            done = subprocess.run(
                [str(BIN / "modelsync"), "sync", "groq", "--json"],
                cwd=tmp_path, env=sync_env, capture_output=True, timeout=60, check=False,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            changes = httpx.get(
                served.base + "/api/changes", params={"gateway": "groq", "limit": 1000}, timeout=10
            ).json()["changes"]
            wanted = {f"model:{c['id']}" for c in changes} | {"models:gateway:groq"}

            def purged() -> set[str]:
                tags: set[str] = set()
                for call in recorder.to("/api/revalidate")[before:]:
                    tags |= set(orjson.loads(call.body)["tags"])
                return tags

            wait_for(lambda: wanted <= purged(), timeout_s=20, what="the front end revalidated")
            call = recorder.to("/api/revalidate")[-1]
            assert call.headers["authorization"] == "Bearer front-secret"
            wait_for(
                lambda: bool(recorder.to("/service/SVC/purge")), timeout_s=20, what="Fastly purged"
            )
            wait_for(
                lambda: (
                    wanted
                    <= {
                        key
                        for call in recorder.to("/service/SVC/purge")
                        for key in call.headers["surrogate-key"].split(" ")
                    }
                ),
                timeout_s=20,
                what="Fastly purged every changed model's key",
            )

            def reported() -> bool:  # the status is cached for a moment
                status = httpx.get(served.base + "/api/sync/status", timeout=10).json()
                nextjs = status["purgers"]["nextjs"]
                return bool(nextjs["sent_calls"] >= 1 and nextjs["failures"] == 0)

            wait_for(reported, timeout_s=20, what="the status reports the purges")
            assert "front-secret" not in served.log()


def test_bad_purger_configuration_refused_at_start(tmp_path: Path) -> None:
    env = clean_environment(
        MODELSYNC_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        MODELSYNC_PURGE__NEXTJS_URL="ftp://front.example/api/revalidate",
        MODELSYNC_PURGE__NEXTJS_SECRET="x",
        MODELSYNC_ADMIN_TOKEN="admin-token-0123456789-0123456789",
        NO_COLOR="1",
        COLUMNS="300",
    )
    done = subprocess.run(
        [str(BIN / "modelsync"), "serve", "--port", "0"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [
        "error: MODELSYNC_PURGE__NEXTJS_URL must be an http(s) URL such as "
        "https://example.com/path (got 'ftp://front.example/api/revalidate')"
    ]
