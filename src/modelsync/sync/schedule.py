"""PURE: when each gateway runs next, and whether its circuit breaker lets a run through.

* Each run is followed by the next one an interval later, plus a random share of the interval
  (``jitter``) so gateways of one tier drift apart instead of firing together.
* Persistent failure backs off: the interval doubles with each further consecutive failure, up
  to ``max_backoff_factor`` times the interval. A ``Retry-After`` from the gateway is a floor.
* From ``breaker_threshold`` consecutive failures the breaker is *open*: webhook and scheduled
  triggers are refused until the backed-off next run comes; then it is *half open* and exactly
  that one run goes through as the probe. Its success closes the breaker; its failure opens it
  again for a longer back-off.
* At start-up a persisted next run in the future is kept (a restart resumes the schedule). A
  gateway that has none (a fresh start, a new gateway) runs first at a random point of its
  interval, or of ``first_run_window_s`` when that is shorter: a thousand gateways' first runs
  spread over an hour, not a minute. An overdue one is spread over a short window
  (``startup_spread_s``): it is late already.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from modelsync.domain import ChangeSource


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class SchedulePolicy:
    max_backoff_factor: int = 8
    breaker_threshold: int = 3
    jitter: float = 0.1
    """Up to this share of the interval is added at random to every next run."""
    startup_spread_s: float = 30.0
    """Overdue next runs are spread over this window (or the interval, if shorter)."""
    first_run_window_s: float | None = 3600.0
    """Missing next runs (first runs) are spread over this window, or the gateway's interval if
    shorter (``None``: always the interval)."""
    hint_debounce_s: float = 1.0
    hint_min_interval_s: float = 5.0


def backoff_factor(consecutive_failures: int, policy: SchedulePolicy) -> int:
    """1 while healthy and after one failure, then 2, 4, ... capped at ``max_backoff_factor``."""
    if consecutive_failures <= 1:
        return 1
    return min(1 << (consecutive_failures - 1), policy.max_backoff_factor)


def next_run_after(
    finished_at: datetime,
    *,
    interval_s: float,
    consecutive_failures: int,
    policy: SchedulePolicy,
    jitter_value: float,
    retry_after_s: float | None = None,
) -> datetime:
    """The next run after one that ended at ``finished_at`` (``jitter_value`` in [0, 1)).

    Back-off and jitter never take it past ``max_backoff_factor`` intervals; a ``Retry-After``
    from the gateway is a floor above everything.
    """
    delay = interval_s * backoff_factor(consecutive_failures, policy)
    delay += interval_s * policy.jitter * jitter_value
    delay = min(delay, interval_s * policy.max_backoff_factor)  # the cap holds, jitter included
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return finished_at + timedelta(seconds=delay)


def startup_next_run(
    persisted: datetime | None,
    *,
    now: datetime,
    interval_s: float,
    policy: SchedulePolicy,
    jitter_value: float,
) -> datetime:
    """Keep a future persisted next run; spread a missing one over the gateway's interval (at
    most ``first_run_window_s``), an overdue one over ``startup_spread_s``."""
    if persisted is not None and persisted > now:
        return persisted
    if persisted is None:
        window = interval_s
        if policy.first_run_window_s is not None:
            window = min(window, policy.first_run_window_s)
    else:
        window = min(interval_s, policy.startup_spread_s)
    return now + timedelta(seconds=window * jitter_value)


def breaker_state(
    consecutive_failures: int,
    *,
    next_run_at: datetime | None,
    now: datetime,
    policy: SchedulePolicy,
) -> BreakerState:
    if consecutive_failures < policy.breaker_threshold:
        return BreakerState.CLOSED
    if next_run_at is None or now >= next_run_at:
        return BreakerState.HALF_OPEN
    return BreakerState.OPEN


def trigger_allowed(state: BreakerState, source: ChangeSource) -> bool:
    """An open breaker refuses webhook hints; an admin's manual run always goes through."""
    return state is not BreakerState.OPEN or source is ChangeSource.MANUAL


def hint_delay(*, now: float, last_started: float | None, policy: SchedulePolicy) -> float:
    """Seconds until a webhook-hinted sync: the debounce, or until the minimum spacing after the
    last run started (``now`` and ``last_started`` on a monotonic clock)."""
    delay = policy.hint_debounce_s
    if last_started is not None:
        delay = max(delay, last_started + policy.hint_min_interval_s - now)
    return delay


def full_resync_due(last_full_sync_at: datetime | None, *, now: datetime, every_s: float) -> bool:
    """Once a day (``every_s``) a run, whatever triggered it, ignores ETag and body hash and
    diffs everything."""
    if last_full_sync_at is None:
        return True
    return (now - last_full_sync_at).total_seconds() >= every_s
