"""Which gateways owe a webhook's verification sync, and when it is requested (again)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import pytest

from modelsync.clock import ManualClock
from modelsync.store.base import GatewayState
from modelsync.webhooks.verification import Verifications, owes_verification
from unit.test_health import AT, STATE

EARLIER, LATER = AT - timedelta(seconds=1), AT + timedelta(seconds=1)


@pytest.mark.parametrize(
    ("enabled", "webhook_at", "attempt_at", "owed"),
    [
        (True, None, AT, False),  # no webhook ever
        (True, AT, None, True),  # a webhook, never a run
        (True, LATER, AT, True),  # the newest run started before the webhook
        (True, AT, AT, True),  # same instant: it may have fetched before the change
        (True, EARLIER, AT, False),  # a run started after the webhook
        (False, LATER, AT, False),  # disabled: nothing to run
    ],
)
def test_owes_verification(
    enabled: bool, webhook_at: object, attempt_at: object, owed: bool
) -> None:
    """Owed while the newest webhook is not older than the start of the last finished run."""
    state = replace(STATE, enabled=enabled, last_webhook_at=webhook_at, last_attempt_at=attempt_at)
    assert owes_verification(state) is owed


class States:
    """gateway_states over a fixed list."""

    def __init__(self, *states: GatewayState) -> None:
        self.states = list(states)

    async def gateway_states(self, names: Sequence[str] | None = None) -> list[GatewayState]:
        return [s for s in self.states if names is None or s.name in names]


async def test_replay_requests_every_owed_gateway_once() -> None:
    """At start: the owed gateways, and only those."""
    store = States(
        replace(STATE, name="groq", last_webhook_at=LATER),
        replace(STATE, name="fal", last_webhook_at=EARLIER),
        replace(STATE, name="xai", last_webhook_at=LATER, enabled=False),
    )
    requested: list[str] = []
    verifications = Verifications(store, requested.append, ManualClock(AT))
    assert await verifications.replay() == ["groq"]
    assert requested == ["groq"]


async def test_a_duplicate_requests_again_unless_this_process_just_did() -> None:
    """Requested after the newest webhook less than grace_s ago: covered; later, or never: again."""
    clock = ManualClock(LATER)
    store = States(replace(STATE, last_webhook_at=LATER))
    requested: list[str] = []
    verifications = Verifications(store, requested.append, clock, grace_s=60)
    await verifications.reverify("groq")
    assert requested == ["groq"]  # never requested here: another process took the delivery
    clock.advance(30)
    await verifications.reverify("groq")
    assert requested == ["groq"]  # this process asked 30 s ago
    clock.advance(31)
    await verifications.reverify("groq")
    assert requested == ["groq", "groq"]  # still owed a minute later: the hint was lost
    store.states = [replace(STATE, last_webhook_at=EARLIER)]
    clock.advance(120)
    await verifications.reverify("groq")
    assert requested == ["groq", "groq"]  # a run started after the webhook: nothing owed


async def test_a_duplicate_on_another_process_leaves_the_sync_to_the_live_acceptor() -> None:
    """Replayed to B moments after live A accepted it: B requests nothing now, and requests it
    once the grace has passed if it is still owed; a dead acceptor's is requested at once."""
    clock = ManualClock(LATER)
    accepted = replace(STATE, last_webhook_at=LATER, last_webhook={"process": "A"})
    store = States(accepted)
    living = {"A"}

    async def alive(process: str) -> bool:
        return process in living

    requested: list[str] = []
    on_b = Verifications(store, requested.append, clock, grace_s=0.2, process="B", alive=alive)
    await on_b.reverify("groq")
    assert requested == []  # A is alive and accepted it a moment ago: A's sync
    clock.advance(0.25)
    await asyncio.sleep(0.4)  # the recheck B scheduled: still owed past the grace
    assert requested == ["groq"]
    living.clear()
    clock.advance(1)
    store.states = [replace(accepted, last_webhook_at=clock.now())]
    await on_b.reverify("groq")
    assert requested == ["groq", "groq"]  # A is dead: at once
    on_b.close()
