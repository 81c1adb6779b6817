"""The verification syncs that accepted webhooks still owe, across crashes and retries.

A delivery answered 2xx is committed (:mod:`modelsync.webhooks.recorder`), and in the same
transaction its gateway's row keeps the newest accepted delivery's time, ``last_webhook_at``.
Every finished run writes its start time to the row, ``last_attempt_at``. So a gateway **owes a
verification sync** while ``last_webhook_at >= last_attempt_at``: no finished run started after
the newest delivery, so none can have seen the change it announced. Kept on the row, this
outlives the process that accepted the delivery and the deliveries' dedupe window.

Two moments act on it:

* **At start** (:meth:`Verifications.replay`): every enabled gateway that owes one is requested,
  so a process killed between the 2xx and the sync (or during it) still runs it.
* **On a duplicate** (:meth:`Verifications.reverify`): a retried delivery whose sync never ran
  (the process that accepted it died; its hint was lost to a database hiccup over a minute ago)
  requests it again; one whose sync ran, or that this process requested a moment ago, costs
  one read and nothing else.

Requests go through the scheduler's hints, so they are debounced and coalesced like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from modelsync.clock import Clock
from modelsync.store.base import GatewayState

log = structlog.get_logger(__name__)


def owes_verification(state: GatewayState) -> bool:
    """PURE: whether an accepted webhook of this gateway has no finished run started after it."""
    if not state.enabled or state.last_webhook_at is None:
        return False
    return state.last_attempt_at is None or state.last_webhook_at >= state.last_attempt_at


class GatewayStates(Protocol):
    """The part of :class:`~modelsync.store.base.Store` this needs."""

    async def gateway_states(self, names: Sequence[str] | None = None) -> list[GatewayState]:
        """Registered gateways (all, or these names)."""
        ...


class Verifications:
    """Requests verification syncs through ``request`` (a scheduler hint, returns at once).

    Every request this process makes goes through :meth:`request`, which remembers when: a
    duplicate that arrives while this process's own request is younger than ``grace_s`` (and
    newer than the gateway's newest delivery) is already covered, and requests nothing more.
    """

    def __init__(
        self,
        store: GatewayStates,
        request: Callable[[str], None],
        clock: Clock,
        *,
        grace_s: float = 60.0,
    ) -> None:
        self._store = store
        self._request = request
        self._clock = clock
        self._grace = timedelta(seconds=grace_s)
        self._requested: dict[str, datetime] = {}

    def request(self, gateway: str) -> None:
        """Request the gateway's verification sync now (the receiver's trigger)."""
        self._requested[gateway] = self._clock.now()
        self._request(gateway)

    async def replay(self) -> list[str]:
        """At start: request every owed verification sync; returns the gateways requested."""
        states = await self._store.gateway_states()
        owed = [state.name for state in states if owes_verification(state)]
        for name in owed:
            self.request(name)
        if owed:
            log.info("webhook_verifications_replayed", gateways=owed)
        return owed

    async def reverify(self, gateway: str) -> None:
        """For a duplicate delivery: request the gateway's verification sync if still owed."""
        for state in await self._store.gateway_states([gateway]):
            if owes_verification(state) and not self._covered(state):
                log.info("webhook_verification_requested_again", gateway=gateway)
                self.request(gateway)

    def _covered(self, state: GatewayState) -> bool:
        """This process asked for the sync after the newest delivery, and not long ago."""
        requested = self._requested.get(state.name)
        if requested is None or state.last_webhook_at is None:
            return False
        return requested >= state.last_webhook_at and self._clock.now() - requested < self._grace
