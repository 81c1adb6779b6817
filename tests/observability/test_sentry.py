"""Sentry (issue 11 item 5) against a local server playing the envelope ingestion endpoint, the
DSN pointed at it: tagged errors, a transaction per run with its spans, cron check-ins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import serve_logging
from modelsync.domain import ChangeSource
from modelsync.observability.sentry import monitor_config
from modelsync.simulator.faults import parse_fault
from modelsync.sync.runner import AppliedRun
from observability.collectors import Received, sentry_server
from web.harness import open_service


def items(received: Received, kind: str) -> list[dict[str, Any]]:
    return [payload for header, payload in received.all() if header.get("type") == kind]


class ListenerBug(RuntimeError):
    """What a broken listener raises (a bug after a committed run)."""


async def test_runs_send_transactions_check_ins_and_tagged_errors(tmp_path: Path) -> None:
    """A scheduled run whose listener raises, then a failing scheduled run, then a manual one."""
    with serve_logging(), sentry_server() as (dsn, received):
        async with open_service(tmp_path, sentry_dsn=dsn) as service:
            runner = service.services.runtime.runner

            async def broken(applied: AppliedRun) -> None:
                raise ListenerBug("a listener bug")

            runner.add_listener(broken)
            ok = await runner.run("groq", trigger=ChangeSource.POLL)
            service.simulator.gateway("groq").faults.append(
                parse_fault({"kind": "http_500"}, gateway="groq")
            )
            failed = await runner.run("groq", trigger=ChangeSource.POLL)
            await runner.run("cerebras", trigger=ChangeSource.MANUAL)
        assert (ok.outcome.value, failed.outcome.value) == ("changed", "failed")

    transactions = items(received, "transaction")
    assert len(transactions) == 3
    groq = [t for t in transactions if t["tags"]["gateway"] == "groq"]
    assert {t["contexts"]["trace"]["op"] for t in transactions} == {"sync.run"}
    assert {t["tags"]["trigger"] for t in groq} == {"poll"}
    assert len({t["tags"]["run_id"] for t in transactions}) == 3
    changed_spans = [span["op"] for span in groq[0]["spans"]]
    assert changed_spans == ["sync.fetch", "sync.normalize", "sync.diff", "sync.apply"]
    assert [span["op"] for span in groq[1]["spans"]] == ["sync.fetch", "sync.apply"]
    assert groq[1]["contexts"]["trace"]["status"] == "internal_error"

    check_ins = items(received, "check_in")
    assert [c["monitor_slug"] for c in check_ins] == ["modelsync-groq"] * 4  # manual: none
    assert [c["status"] for c in check_ins] == ["in_progress", "ok", "in_progress", "error"]
    assert check_ins[0]["check_in_id"] == check_ins[1]["check_in_id"]
    assert check_ins[2]["check_in_id"] == check_ins[3]["check_in_id"] != check_ins[0]["check_in_id"]
    schedule = check_ins[0]["monitor_config"]["schedule"]
    assert schedule == {"type": "interval", "value": 15, "unit": "minute"}  # groq: high tier

    errors = {event["tags"]["gateway"]: event for event in items(received, "event")}
    assert set(errors) == {"groq", "cerebras"}  # the listener failed after each changed run
    error = errors["groq"]
    (exception,) = error["exception"]["values"]
    assert exception["type"] == "ListenerBug"
    assert error["tags"]["gateway"] == "groq"
    assert error["tags"]["trigger"] == "poll"
    assert error["tags"]["run_id"] == groq[0]["tags"]["run_id"]


def test_a_monitor_schedule_is_the_interval_in_minutes() -> None:
    """Sentry counts intervals in minutes: rounded up, at least one."""
    assert monitor_config(900)["schedule"]["value"] == 15
    assert monitor_config(30)["schedule"]["value"] == 1
    assert monitor_config(4 * 3600)["schedule"] == {
        "type": "interval",
        "value": 240,
        "unit": "minute",
    }


async def test_without_a_dsn_nothing_is_sent(tmp_path: Path) -> None:
    """No SENTRY_DSN: runs work and the stand-in hears nothing."""
    with sentry_server() as (_, received):
        async with open_service(tmp_path) as service:
            await service.sync("groq")
    assert received.all() == []
