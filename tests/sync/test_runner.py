"""SyncRunner end to end: a real SQLite file, the simulator app over httpx, real adapters."""

from __future__ import annotations

import asyncio
import gc
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog.testing
from runner_harness import Harness, models_of, open_harness, statuses_of

from modelsync.domain import ChangeKind, ChangeSource, ModelStatus, RunOutcome
from modelsync.errors import ConfigError
from modelsync.store.base import GatewayState, RunRecord, StoredCatalog
from modelsync.store.sql import SqlStore
from modelsync.sync.runner import AppliedRun, SyncRunner

SONNET = "anthropic/claude-sonnet-4.5"
"""An OpenRouter model of the built-in catalog: USD 3 / 15 per 1M tokens (0.000003 per token)."""


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """The simulator (ETags on) and a database file of this test's own."""
    async with open_harness(tmp_path) as opened:
        yield opened


@pytest.fixture
async def runner(harness: Harness) -> SyncRunner:
    """A runner on the harness's database."""
    return await harness.runner()


async def test_first_sync_adds_every_model(harness: Harness, runner: SyncRunner) -> None:
    """The first run of a gateway adds its whole catalog and records one change per model."""
    served = (await harness.admin_call("GET", "/_admin/state?gateway=openrouter"))["gateways"]
    summary = await runner.run("openrouter")
    store = harness.stores[0]
    count = served["openrouter"]["models"]
    assert (summary.outcome, summary.added, summary.total_models) == (
        RunOutcome.CHANGED, count, count,
    )  # fmt: skip
    assert summary.error is None
    assert summary.catalog_version == 1
    changes = await store.list_changes(gateway="openrouter", limit=1000)
    assert {c.change.kind for c in changes} == {ChangeKind.ADDED}
    assert len(changes) == count
    assert set(await statuses_of(store, "openrouter")) == {
        c.change.gateway_model_id for c in changes
    }
    [state] = await store.gateway_states(["openrouter"])
    assert (state.model_count, state.version, state.consecutive_failures) == (count, 1, 0)
    assert state.etag is not None
    assert state.body_hash is not None


async def test_second_poll_with_etag_is_not_modified(harness: Harness, runner: SyncRunner) -> None:
    """The stored ETag is sent back, the simulator answers 304: nothing is decoded or written."""
    await runner.run("groq")
    again = await runner.run("groq")
    assert (again.outcome, again.added, again.updated, again.total_models) == (
        RunOutcome.NOT_MODIFIED, 0, 0, 14,
    )  # fmt: skip
    store = harness.stores[0]
    assert await store.catalog_version() == 1
    runs = await store.list_runs(gateway="groq")
    assert [run.record.outcome for run in runs] == [RunOutcome.NOT_MODIFIED, RunOutcome.CHANGED]
    assert (runs[0].record.http_status, runs[0].catalog_version) == (304, None)


async def test_second_poll_without_etag_is_unchanged_by_body_hash(tmp_path: Path) -> None:
    """Without ETags the identical body's hash short-circuits to ``unchanged``."""
    async with open_harness(tmp_path, etag=False) as harness:
        runner = await harness.runner()
        first = await runner.run("groq")
        again = await runner.run("groq")
        store = harness.stores[0]
        [state] = await store.gateway_states(["groq"])
        runs = await store.list_runs(gateway="groq")
    assert first.outcome is RunOutcome.CHANGED
    assert (again.outcome, again.total_models, again.catalog_version) == (
        RunOutcome.UNCHANGED, 14, 1,
    )  # fmt: skip
    assert state.etag is None
    assert runs[0].record.body_hash == runs[1].record.body_hash
    assert runs[0].record.http_status == 200


async def test_reprice_records_usd_per_million(harness: Harness, runner: SyncRunner) -> None:
    """A reprice is one ``updated`` change with the old and new prices in USD per 1M tokens."""
    await runner.run("openrouter")
    answer = await harness.mutate(gateway="openrouter", op="reprice", model_id=SONNET, factor=2)
    assert answer["changes"]["pricing.prompt"] == ["0.000003", "0.000006"]
    summary = await runner.run("openrouter")
    assert (summary.outcome, summary.added, summary.updated, summary.removed) == (
        RunOutcome.CHANGED, 0, 1, 0,
    )  # fmt: skip
    [change] = await harness.stores[0].list_changes(since=21, gateway="openrouter")
    assert change.change.kind is ChangeKind.UPDATED
    assert change.change.gateway_model_id == SONNET
    assert dict(change.change.fields) == {
        "pricing.prompt": ("3", "6"),
        "pricing.completion": ("15", "30"),
    }
    assert change.change.anomalies == ()
    assert change.catalog_version == 2
    stored = (await models_of(harness.stores[0], "openrouter"))[SONNET]
    assert stored.model.pricing.as_text()["prompt"] == "6"


async def test_rename_records_the_name_field(harness: Harness, runner: SyncRunner) -> None:
    """A rename is an ``updated`` change of exactly the ``name`` field."""
    await runner.run("openrouter")
    await harness.mutate(gateway="openrouter", op="rename", model_id=SONNET, name="Sonnet Next")
    await runner.run("openrouter")
    [change] = await harness.stores[0].list_changes(since=21)
    assert change.change.kind is ChangeKind.UPDATED
    assert dict(change.change.fields) == {"name": ("Anthropic: Claude Sonnet 4.5", "Sonnet Next")}


@pytest.mark.parametrize("etag", [True, False], ids=["etag", "body-hash"])
async def test_remove_then_restore(tmp_path: Path, etag: bool) -> None:
    """Removal takes two polls (``missing``, then a ``removed`` change); a return is ``restored``.

    The second poll's answer is identical to the first's: it must still be diffed (neither a 304
    nor the body hash may hide the second miss), and only then are validators kept again.
    """
    async with open_harness(tmp_path, etag=etag) as harness:
        await check_remove_then_restore(harness, await harness.runner(), etag=etag)


async def check_remove_then_restore(harness: Harness, runner: SyncRunner, *, etag: bool) -> None:
    """The steps of test_remove_then_restore."""
    store = harness.stores[0]
    await runner.run("openrouter")
    await harness.mutate(gateway="openrouter", op="remove", model_id=SONNET)

    first = await runner.run("openrouter")
    assert (first.outcome, first.missing, first.removed, first.total_models) == (
        RunOutcome.CHANGED, 1, 0, 20,
    )  # fmt: skip
    assert await store.list_changes(since=21) == []
    assert (await statuses_of(store, "openrouter"))[SONNET] is ModelStatus.MISSING

    second = await runner.run("openrouter")
    assert (second.outcome, second.removed, second.missing) == (RunOutcome.CHANGED, 1, 0)
    [removed] = await store.list_changes(since=21)
    assert (removed.change.kind, removed.change.gateway_model_id) == (ChangeKind.REMOVED, SONNET)
    assert (await statuses_of(store, "openrouter"))[SONNET] is ModelStatus.REMOVED
    quiet = await runner.run("openrouter")
    assert quiet.outcome is (RunOutcome.NOT_MODIFIED if etag else RunOutcome.UNCHANGED)

    await harness.mutate(gateway="openrouter", op="restore", model_id=SONNET)
    back = await runner.run("openrouter")
    assert (back.outcome, back.restored, back.total_models) == (RunOutcome.CHANGED, 1, 21)
    restored = (await store.list_changes(since=removed.seq))[-1]
    assert (restored.change.kind, restored.change.gateway_model_id) == (
        ChangeKind.RESTORED, SONNET,
    )  # fmt: skip
    assert (await statuses_of(store, "openrouter"))[SONNET] is ModelStatus.ACTIVE


async def test_missing_model_that_returns_is_no_change(
    harness: Harness, runner: SyncRunner
) -> None:
    """A model missing from one poll and back on the next records no change at all."""
    await runner.run("openrouter")
    await harness.mutate(gateway="openrouter", op="remove", model_id=SONNET)
    await runner.run("openrouter")
    await harness.mutate(gateway="openrouter", op="restore", model_id=SONNET)
    back = await runner.run("openrouter")
    assert (back.outcome, back.restored, back.updated, back.missing) == (
        RunOutcome.CHANGED, 0, 0, 0,
    )  # fmt: skip
    assert await harness.stores[0].list_changes(since=21) == []
    assert (await statuses_of(harness.stores[0], "openrouter"))[SONNET] is ModelStatus.ACTIVE


async def test_two_runners_alternating_diff_against_the_store(harness: Harness) -> None:
    """A runner whose memo is stale (another runner applied since) diffs against the store."""
    first = await harness.runner(owner="a")
    second = await harness.runner(owner="b")
    store = harness.stores[0]
    await first.run("openrouter")  # first's memo: the catalog at gateway version 1
    await harness.mutate(gateway="openrouter", op="reprice", model_id=SONNET, factor=2)
    await second.run("openrouter")  # 3 -> 6, applied by the other runner
    await harness.mutate(gateway="openrouter", op="reprice", model_id=SONNET, factor=0.5)
    back = await first.run("openrouter")  # 6 -> 3; a stale memo would see "no change"
    assert (back.outcome, back.updated) == (RunOutcome.CHANGED, 1)
    await harness.mutate(gateway="openrouter", op="rename", model_id=SONNET, name="Renamed")
    renamed = await second.run("openrouter")  # second's memo is stale now
    assert (renamed.outcome, renamed.updated) == (RunOutcome.CHANGED, 1)
    fields = [dict(c.change.fields) for c in await store.list_changes(since=21)]
    assert fields == [
        {"pricing.prompt": ("3", "6"), "pricing.completion": ("15", "30")},
        {"pricing.prompt": ("6", "3"), "pricing.completion": ("30", "15")},
        {"name": ("Anthropic: Claude Sonnet 4.5", "Renamed")},
    ]
    stored = (await models_of(store, "openrouter"))[SONNET].model
    assert (stored.name, stored.pricing.as_text()["prompt"]) == ("Renamed", "3")


async def test_full_ignores_etag_and_body_hash(tmp_path: Path) -> None:
    """``full=True`` fetches without validators and diffs even an identical body."""
    async with open_harness(tmp_path, etag=True) as harness:
        runner = await harness.runner()
        await runner.run("groq")
        plain = await runner.run("groq")
        full = await runner.run("groq", full=True)
        await harness.admin_call("POST", "/_admin/etag", json={"gateway": "groq", "enabled": False})
        hashed = await runner.run("groq")
        full_hashed = await runner.run("groq", full=True)
        store = harness.stores[0]
        runs = await store.list_runs(gateway="groq")
        [state] = await store.gateway_states(["groq"])
    assert plain.outcome is RunOutcome.NOT_MODIFIED
    assert hashed.outcome is RunOutcome.UNCHANGED  # the body hash short-circuit
    assert (full.outcome, full_hashed.outcome) == (RunOutcome.UNCHANGED, RunOutcome.UNCHANGED)
    by_order = list(reversed(runs))
    assert [run.record.full_sync for run in by_order] == [True, False, True, False, True]
    assert [run.record.http_status for run in by_order] == [200, 304, 200, 200, 200]
    assert state.last_full_sync_at is not None


class CountingStore(SqlStore):
    """A SqlStore that counts how often a stored catalog is loaded for a diff."""

    loads = 0

    async def load_catalog(self, gateway: str) -> StoredCatalog:
        """Count, then load."""
        self.loads += 1
        return await super().load_catalog(gateway)


async def test_full_diffs_an_identical_body(tmp_path: Path) -> None:
    """An identical body is never decoded or diffed, unless the run is ``full``."""
    async with open_harness(tmp_path, etag=False) as harness:
        await (await harness.runner()).run("groq")
        store = CountingStore(harness.url)
        await store.open()
        try:
            fresh = await harness.runner(store=store, owner="fresh")  # no memo: diffs load
            plain = await fresh.run("groq")
            loads_plain = store.loads
            full = await fresh.run("groq", full=True)
            loads_full = store.loads
        finally:
            await store.close()
    assert (plain.outcome, loads_plain) == (RunOutcome.UNCHANGED, 0)
    assert (full.outcome, loads_full) == (RunOutcome.UNCHANGED, 1)


async def test_listeners_get_the_stored_change_records(
    harness: Harness, runner: SyncRunner
) -> None:
    """Listeners hear of each run that changed the catalog, with the ChangeRecords as stored."""
    heard: list[AppliedRun] = []
    collecting: list[bool] = []

    async def listen(applied: AppliedRun) -> None:
        heard.append(applied)
        collecting.append(gc.isenabled())

    async def broken(applied: AppliedRun) -> None:
        raise RuntimeError("a listener that fails")

    runner.add_listener(broken)
    runner.add_listener(listen)
    await runner.run("xai", trigger=ChangeSource.POLL)
    await runner.run("xai")  # 304: no listener call
    await harness.mutate(gateway="xai", op="reprice", model_id="grok-4-0709", factor=2)
    await runner.run("xai", trigger=ChangeSource.WEBHOOK)
    stored = await harness.stores[0].list_changes(gateway="xai", limit=1000)
    assert [applied.source for applied in heard] == [ChangeSource.POLL, ChangeSource.WEBHOOK]
    # 7 models and their 10 aliases (offers of their own); grok-4-0709 is also grok-4 and
    # grok-4-latest, so its reprice is three updates
    assert [len(applied.result.changes) for applied in heard] == [17, 3]
    assert [r for applied in heard for r in applied.result.changes] == stored
    assert heard[1].plan.count(ChangeKind.UPDATED) == 3
    assert heard[1].result.catalog_version == 2
    assert {r.source for r in stored[17:]} == {ChangeSource.WEBHOOK}
    # the commit and its listeners build and fan out a record a change: no full collection
    # walks them meanwhile (after a big run one held the loop for hundreds of ms)
    assert collecting == [False, False]
    assert gc.isenabled()


async def test_disabled_gateway_records_nothing(harness: Harness) -> None:
    """Without a key and without an upstream, a keyed gateway is ``disabled``: no run, no fetch."""
    runner = await harness.runner(upstream=None)
    summary = await runner.run("groq")
    store = harness.stores[0]
    assert summary.outcome is RunOutcome.DISABLED
    assert summary.error == "no API key: set GROQ_API_KEY"
    assert summary.ok
    assert await store.list_runs(gateway="groq") == []
    assert await store.catalog_version() == 0
    [state] = await store.gateway_states(["groq"])
    assert (state.enabled, state.last_attempt_at) == (False, None)
    served = await harness.admin_call("GET", "/_admin/state?gateway=groq")
    assert served["gateways"]["groq"]["requests"] == 0


async def test_lease_held_elsewhere_fails_after_waiting(harness: Harness) -> None:
    """A runner waits ``lease_wait_s`` for a lease another owner holds, then reports failed."""
    runner = await harness.runner(lease_wait_s=0.3)
    store = harness.stores[0]
    grant = await store.acquire_lease("groq", "someone-else", ttl_s=60)
    assert grant is not None
    started = time.monotonic()
    summary = await runner.run("groq")
    waited = time.monotonic() - started
    assert summary.outcome is RunOutcome.FAILED
    assert summary.error is not None
    assert re.fullmatch(
        r"groq is being synced by another process \(someone-else\); its lease runs until "
        r"\d\d:\d\d:\d\d UTC \(database time\), renewed while that run lasts",
        summary.error,
    )
    assert 0.3 <= waited < 2.0
    assert await store.list_runs(gateway="groq") == []
    [state] = await store.gateway_states(["groq"])
    assert state.lease_owner == "someone-else"


async def test_lease_released_while_waiting(harness: Harness) -> None:
    """A lease given up while the runner waits is taken, and the run completes."""
    runner = await harness.runner(lease_wait_s=5.0)
    store = harness.stores[0]
    grant = await store.acquire_lease("groq", "someone-else", ttl_s=60)
    assert grant is not None

    async def release_soon() -> None:
        await asyncio.sleep(0.1)
        await store.release_lease(grant.lease)

    releaser = asyncio.create_task(release_soon())
    summary = await runner.run("groq")
    await releaser
    assert (summary.outcome, summary.added) == (RunOutcome.CHANGED, 14)


async def test_retry_after_reaches_next_run(harness: Harness, runner: SyncRunner) -> None:
    """A 429's Retry-After is handed to the next_run callback, and its answer is stored."""
    seen: list[tuple[GatewayState, RunRecord, float | None]] = []
    planned = datetime(2030, 1, 1, tzinfo=UTC)

    def next_run(state: GatewayState, record: RunRecord, retry_after: float | None) -> datetime:
        seen.append((state, record, retry_after))
        return planned + timedelta(seconds=retry_after or 0)

    await runner.run("together", next_run=next_run)
    await harness.fault(gateway="together", kind="http_429", retry_after=7, times=1)
    limited = await runner.run("together", next_run=next_run)
    assert limited.outcome is RunOutcome.FAILED
    assert limited.error is not None
    assert "HTTP 429" in limited.error
    assert [item[2] for item in seen] == [None, 7.0]
    assert seen[1][1].outcome is RunOutcome.FAILED
    assert seen[1][0].consecutive_failures == 0
    [state] = await harness.stores[0].gateway_states(["together"])
    assert state.next_run_at == planned + timedelta(seconds=7)
    assert (state.consecutive_failures, state.last_error) == (1, limited.error)


async def test_unknown_gateway_is_a_config_error(runner: SyncRunner) -> None:
    """An unknown name raises ConfigError listing the known gateways."""
    with pytest.raises(ConfigError, match="known gateways: openrouter, groq"):
        await runner.run("nope")


async def test_full_resync_that_refreshes_extra_says_changed_and_bumps_the_version(
    tmp_path: Path,
) -> None:
    """A field kept in ``extra`` moves: polls leave the row; the full resync rewrites it, and its
    outcome and the catalog version agree (changed, one version on), with no change recorded."""
    async with open_harness(tmp_path, etag=False) as harness:
        runner = await harness.runner()
        await runner.run("openrouter")
        await harness.mutate(
            gateway="openrouter", op="set_field", model_id=SONNET, field="knowledge_cutoff",
            value="2031-01-01",
        )  # fmt: skip
        poll = await runner.run("openrouter")
        store = harness.stores[0]
        version = await store.catalog_version()
        before = {
            m.model.gateway_model_id: m
            for m in await store.model_offers("anthropic/claude-sonnet-4.5")
        }
        full = await runner.run("openrouter", full=True)
        after = {
            m.model.gateway_model_id: m
            for m in await store.model_offers("anthropic/claude-sonnet-4.5")
        }
        changes = await store.list_changes(since=0, gateway="openrouter", limit=1000)
        untouched = await runner.run("openrouter", full=True)
        final = await store.catalog_version()
    assert (poll.outcome, full.outcome) == (RunOutcome.UNCHANGED, RunOutcome.CHANGED)
    assert (full.added, full.updated, full.removed) == (0, 0, 0)
    assert full.catalog_version == version + 1
    assert (untouched.outcome, final) == (RunOutcome.UNCHANGED, version + 1)
    assert before[SONNET].model.extra.get("knowledge_cutoff") != "2031-01-01"
    assert after[SONNET].model.extra["knowledge_cutoff"] == "2031-01-01"
    assert all(change.change.kind.value == "added" for change in changes)


async def test_the_run_log_line_counts_missing_and_restored(harness: Harness) -> None:
    """``sync.run`` says how many models went missing this poll (issue 7: 7)."""
    runner = await harness.runner()
    await runner.run("groq")
    await harness.mutate(gateway="groq", op="remove", model_id="llama-3.1-8b-instant")
    with structlog.testing.capture_logs() as logs:
        summary = await runner.run("groq")
    assert summary.missing == 1
    [line] = [entry for entry in logs if entry["event"] == "sync.run"]
    assert (line["missing"], line["removed"], line["restored"]) == (1, 0, 0)
