"""PURE: what a purger (and the webhook outbox) tells the status: its sends and failures.

``GET /api/sync/status`` shows one record per purger under ``"purgers"`` (``PurgerOut``): how
many keys wait, how many calls went out, how many failed for good, and the last of each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class DeliveryRecord:
    """A purger's counts and its last success and failure (a failure with its one-line error)."""

    failures: int = 0
    sent_calls: int = 0
    refused_keys: int = 0
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_error: str | None = None

    def sent(self, at: datetime) -> None:
        """A call went out and was answered 2xx."""
        self.sent_calls += 1
        self.last_success_at = at

    def failed(self, at: datetime, error: str) -> None:
        """A call (or a batch of keys) was given up on."""
        self.failures += 1
        self.last_failure_at = at
        self.last_error = error

    def describe(self, queue_depth: int) -> dict[str, Any]:
        """The record as the status API writes it (``PurgerOut``)."""
        return {
            "queue_depth": queue_depth,
            "failures": self.failures,
            "sent_calls": self.sent_calls,
            "refused_keys": self.refused_keys,
            "last_success_at": _iso(self.last_success_at),
            "last_failure_at": _iso(self.last_failure_at),
            "last_error": self.last_error,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
