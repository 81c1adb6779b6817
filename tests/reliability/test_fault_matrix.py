"""The fault matrix: every kind of bad upstream answer, against a real simulator over loopback.

One uvicorn simulator serves the module; each case gets a database of its own and a runtime built
as production builds it (``open_runtime`` with ``Settings(upstream=...)``), with short timeouts,
two attempts and tiny backoffs. Per case: a good sync, then the fault, twice: each run is failed
(or rejected), ``status`` shows the error and the failure count, no change is recorded, the
previous catalog is served exactly, the catalog version stays; then the fault is cleared and the
next run succeeds and resets the count.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import serving
from modelsync.clock import ManualClock
from modelsync.config import HttpSettings, Settings
from modelsync.domain import RunOutcome
from modelsync.runtime import Runtime, open_runtime
from modelsync.simulator import SimulatorConfig, build_server
from modelsync.store.base import ModelQuery
from modelsync.sync.health import status_json

READ_TIMEOUT_S = 0.5
MAX_BODY_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Case:
    """One fault on one gateway whose shape supports it, and what the run must say."""

    gateway: str
    fault: dict[str, Any]
    outcome: RunOutcome
    error: str
    """A regular expression the run's error must match (``re.search``)."""


FAILED, REJECTED = RunOutcome.FAILED, RunOutcome.REJECTED

CASES = [
    Case("groq", {"kind": "http_500"}, FAILED,
         r"^HTTP 500 from http://127\.0\.0\.1:\d+/groq/openai/v1/models: .*\(gave up after 2 "
         r"attempts\)$"),
    Case("aimo", {"kind": "http_429", "retry_after": 3}, FAILED,
         r"^HTTP 429 from .*/aimo/api/v1/models.*\(gave up after 2 attempts\)$"),
    Case("cerebras", {"kind": "slow", "seconds": 1.0}, FAILED,
         r"^timed out after 0\.5s reading .*/cerebras/v1/models \(gave up after 2 attempts\)$"),
    Case("google", {"kind": "malformed_json"}, FAILED,
         r"^malformed JSON from .*/google/v1beta/models"),
    Case("xai", {"kind": "truncated_body"}, FAILED,
         r"^malformed JSON from .*/xai/v1/language-models"),
    Case("fireworks", {"kind": "html_error"}, FAILED,
         r"^got an HTML page \(502 Bad Gateway\) with status 200 instead of JSON from "),
    Case("nebius", {"kind": "empty_list"}, REJECTED, r"^empty model list$"),
    Case("fal", {"kind": "truncated", "percent": 40}, REJECTED,
         r"^snapshot shrank from 29 to 11 models \(more than 50%\); keeping the last good "
         r"catalog$"),
    Case("together", {"kind": "dict_for_list"}, FAILED,
         r"^together page 1: expected the bare list of models, got an object$"),
    Case("near", {"kind": "bad_price"}, REJECTED,  # 1 bad entry of 9: over the 5% share
         r"^near: 1 of 9 entries are not valid, more than 5% \(MODELSYNC_GUARD__MAX_QUARANTINED\)"
         r": '[^']+': inputCostPerToken\.amount must be a number, got 'N/A'; the snapshot is "
         r"rejected and the last good catalog kept$"),
    Case("vercel-ai-gateway", {"kind": "duplicate_ids"}, REJECTED,
         r"^duplicate model ids in one response \(2\): "),
    Case("huggingface", {"kind": "huge_body", "mib": 1}, FAILED,
         rf"^the body of .*/huggingface/v1/models passed the limit of {MAX_BODY_BYTES} bytes$"),
]  # fmt: skip


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """The simulator (built-in catalogs, frozen clock) under uvicorn, in a thread, on loopback."""
    config = SimulatorConfig(use_fixtures=False, clock=ManualClock())
    with serving(build_server("127.0.0.1", 0, config)) as base:
        yield base


def admin(upstream: str, method: str, path: str, **kwargs: Any) -> Any:
    """One call of the simulator's admin API; fails the test unless it answers 200."""
    response = httpx.request(method, upstream + path, timeout=5, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def settings_for(upstream: str, tmp_path: Path) -> Settings:
    """Production settings with short timeouts, two attempts, tiny backoffs, a small body cap."""
    http = HttpSettings(
        connect_timeout_s=2.0,
        read_timeout_s=READ_TIMEOUT_S,
        max_body_bytes=MAX_BODY_BYTES,
        attempts=2,
        backoff_base_s=0.01,
        backoff_cap_s=0.05,
        retry_after_cap_s=0.05,
    )
    return Settings(
        upstream=upstream, database_url=f"sqlite+aiosqlite:///{tmp_path / 'm.db'}", http=http
    )


async def served(runtime: Runtime, gateway: str) -> list[dict[str, Any]]:
    """Every stored model of the gateway as the read side serves it."""
    query = ModelQuery(gateway=gateway, include_removed=True, limit=10_000)
    return [item.to_json() for item in await runtime.store.list_models(query)]


def without_last_seen(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The models without ``last_seen_at``, which a successful poll moves on."""
    return [{k: v for k, v in model.items() if k != "last_seen_at"} for model in models]


async def status_of(runtime: Runtime, gateway: str) -> dict[str, Any]:
    """The gateway's row of ``modelsync status --json``."""
    [state] = await runtime.store.gateway_states([gateway])
    return status_json(state, failing_after=runtime.settings.scheduler.breaker_threshold)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.gateway}-{c.fault['kind']}" for c in CASES])
async def test_fault_keeps_the_last_good_catalog(upstream: str, tmp_path: Path, case: Case) -> None:
    """A fault fails (or is rejected), shows in status, changes nothing; clearing it recovers."""
    name = case.gateway
    admin(upstream, "POST", f"/_admin/reset?gateway={name}")
    async with open_runtime(settings_for(upstream, tmp_path)) as runtime:
        good = await runtime.runner.run(name)
        assert (good.outcome, good.error) == (RunOutcome.CHANGED, None)
        before = await served(runtime, name)
        changes = await runtime.store.list_changes(gateway=name, limit=10_000)
        version = await runtime.store.catalog_version()
        assert before
        assert len(changes) == good.added == len(before)

        admin(upstream, "POST", "/_admin/fault", json={"gateway": name, **case.fault})
        for failures in (1, 2):
            bad = await runtime.runner.run(name)
            assert bad.outcome is case.outcome, bad
            assert bad.error is not None
            assert re.search(case.error, bad.error), bad.error
            assert (bad.added, bad.updated, bad.removed, bad.catalog_version) == (0, 0, 0, version)
            status = await status_of(runtime, name)
            assert status["last_error"] == bad.error
            assert status["last_outcome"] == case.outcome.value
            assert status["consecutive_failures"] == failures
            assert status["status"] == "degraded"
            assert status["model_count"] == len(before)
            assert await runtime.store.list_changes(gateway=name, limit=10_000) == changes
            assert await served(runtime, name) == before
            assert await runtime.store.catalog_version() == version
        [last_run] = await runtime.store.list_runs(gateway=name, limit=1)
        assert (last_run.record.outcome, last_run.record.error) == (case.outcome, bad.error)
        assert last_run.catalog_version is None

        admin(upstream, "DELETE", f"/_admin/fault?gateway={name}")
        healed = await runtime.runner.run(name)
        assert healed.ok, healed
        assert healed.error is None
        status = await status_of(runtime, name)
        assert (status["status"], status["consecutive_failures"], status["last_error"]) == (
            "ok", 0, None,
        )  # fmt: skip
        assert await runtime.store.list_changes(gateway=name, limit=10_000) == changes
        assert without_last_seen(await served(runtime, name)) == without_last_seen(before)
        assert await runtime.store.catalog_version() == version


async def test_one_bad_price_of_21_is_quarantined(upstream: str, tmp_path: Path) -> None:
    """Issue 9 item 4 over loopback: OpenRouter's bad_price fault breaks one entry of 21 (under
    the 5% share): that entry is quarantined by name with its reason, its model served as it
    was, the rest applies; status and the change feed name it once; clearing it recovers."""
    admin(upstream, "POST", "/_admin/reset?gateway=openrouter")
    async with open_runtime(settings_for(upstream, tmp_path)) as runtime:
        good = await runtime.runner.run("openrouter")
        before = without_last_seen(await served(runtime, "openrouter"))
        admin(
            upstream, "POST", "/_admin/fault", json={"gateway": "openrouter", "kind": "bad_price"}
        )
        for _ in (1, 2):
            bad = await runtime.runner.run("openrouter")
            assert bad.ok, bad
            assert (bad.added, bad.updated, bad.removed, bad.missing) == (0, 0, 0, 0)
            [(key, reason)] = bad.quarantined.items()
            assert reason == "pricing.prompt must be a number, got 'N/A'"
            status = await status_of(runtime, "openrouter")
            assert status["quarantined"] == [{"id": key, "reason": reason}]
            assert (status["status"], status["model_count"]) == ("ok", good.total_models)
            assert without_last_seen(await served(runtime, "openrouter")) == before
        changes = await runtime.store.list_changes(gateway="openrouter", limit=10_000)
        held = [c for c in changes if c.change.kind.value == "quarantined"]
        assert [(c.change.gateway_model_id, c.change.fields["quarantine"][1]) for c in held] == [
            (key, reason)
        ]
        admin(upstream, "DELETE", "/_admin/fault?gateway=openrouter")
        healed = await runtime.runner.run("openrouter")
        assert (healed.ok, healed.quarantined) == (True, {})
        assert (await status_of(runtime, "openrouter"))["quarantined"] == []
