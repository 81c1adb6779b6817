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
  one read and nothing else. Across processes: a delivery replayed to B moments after A
  accepted it is A's to verify while A is alive (the gateway row names the accepting process,
  the registry says who is alive), so the sync runs once, not once per process; B looks again
  when ``grace_s`` has passed since the delivery and requests it then if it is still owed.

Requests go through the scheduler's hints, so they are debounced and coalesced like any other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
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
        process: str | None = None,
        alive: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self._store = store
        self._request = request
        self._clock = clock
        self._grace = timedelta(seconds=grace_s)
        self._requested: dict[str, datetime] = {}
        self._process = process
        self._alive = alive
        self._rechecks: dict[str, asyncio.TimerHandle] = {}
        self._pending: set[asyncio.Task[None]] = set()

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
            if not owes_verification(state) or self._covered(state):
                continue
            wait = await self._elsewhere(state)
            if wait is not None:
                self._recheck(gateway, wait)
                continue
            log.info("webhook_verification_requested_again", gateway=gateway)
            self.request(gateway)

    async def _elsewhere(self, state: GatewayState) -> float | None:
        """Seconds to leave the sync to the live process that accepted the newest delivery
        moments ago; ``None`` when this process should request it now."""
        accepted_by = (state.last_webhook or {}).get("process")
        if not accepted_by or accepted_by == self._process or self._alive is None:
            return None
        assert state.last_webhook_at is not None  # owed: there is a webhook
        left = (state.last_webhook_at + self._grace - self._clock.now()).total_seconds()
        if left <= 0 or not await self._alive(str(accepted_by)):
            return None
        return left

    def _recheck(self, gateway: str, delay_s: float) -> None:
        if gateway in self._rechecks:
            return
        loop = asyncio.get_running_loop()
        self._rechecks[gateway] = loop.call_later(delay_s, self._recheck_due, gateway)

    def _recheck_due(self, gateway: str) -> None:
        self._rechecks.pop(gateway, None)
        task = asyncio.create_task(self._quiet_reverify(gateway), name=f"reverify-{gateway}")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _quiet_reverify(self, gateway: str) -> None:
        try:
            await self.reverify(gateway)
        except Exception:
            log.warning("webhook_verification_recheck_failed", gateway=gateway, exc_info=True)

    def close(self) -> None:
        """Cancel the pending rechecks (at shutdown)."""
        for handle in self._rechecks.values():
            handle.cancel()
        self._rechecks.clear()
        for task in self._pending:
            task.cancel()

    def _covered(self, state: GatewayState) -> bool:
        """This process asked for the sync after the newest delivery, and not long ago."""
        requested = self._requested.get(state.name)
        if requested is None or state.last_webhook_at is None:
            return False
        return requested >= state.last_webhook_at and self._clock.now() - requested < self._grace
