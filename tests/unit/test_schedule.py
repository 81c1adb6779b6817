"""The pure schedule: next runs, back-off, breaker, start-up spread, daily full resync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from modelsync.domain import ChangeSource
from modelsync.sync.schedule import (
    BreakerState,
    SchedulePolicy,
    backoff_factor,
    breaker_state,
    full_resync_due,
    next_run_after,
    startup_next_run,
    trigger_allowed,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
POLICY = SchedulePolicy()


@pytest.mark.parametrize(
    ("failures", "factor"), [(0, 1), (1, 1), (2, 2), (3, 4), (4, 8), (5, 8), (50, 8)]
)
def test_backoff_doubles_up_to_the_cap(failures: int, factor: int) -> None:
    """Each further failure doubles the interval, never past 8x."""
    assert backoff_factor(failures, POLICY) == factor


@pytest.mark.parametrize(
    ("failures", "jitter", "retry_after", "seconds"),
    [
        (0, 0.0, None, 900),
        (0, 0.5, None, 945),
        (0, 0.999, None, 900 + 89.91),
        (3, 0.0, None, 3600),
        (9, 0.0, None, 7200),
        (9, 0.999, None, 7200),
        (4, 0.5, None, 7200),
        (1, 0.0, 3000.0, 3000),
        (1, 0.0, 10.0, 900),
    ],
)
def test_next_run_after(
    failures: int, jitter: float, retry_after: float | None, seconds: float
) -> None:
    """Interval x back-off plus up to 10% jitter, never past 8x; Retry-After is a floor."""
    when = next_run_after(
        NOW,
        interval_s=900,
        consecutive_failures=failures,
        policy=POLICY,
        jitter_value=jitter,
        retry_after_s=retry_after,
    )
    assert when == NOW + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("persisted", "jitter", "expected"),
    [
        (NOW + timedelta(minutes=7), 0.9, NOW + timedelta(minutes=7)),
        (None, 0.5, NOW + timedelta(seconds=450)),
        (NOW - timedelta(hours=3), 0.0, NOW),
        (NOW - timedelta(hours=3), 1.0, NOW + timedelta(seconds=30)),
    ],
)
def test_startup_resumes_or_spreads(
    persisted: datetime | None, jitter: float, expected: datetime
) -> None:
    """A future next run is kept; a missing or overdue one lands within the spread window."""
    assert (
        startup_next_run(persisted, now=NOW, interval_s=900, policy=POLICY, jitter_value=jitter)
        == expected
    )


@pytest.mark.parametrize(
    ("interval_s", "window_s", "jitter", "after_s"),
    [
        (900, 3600.0, 0.5, 450),  # within its interval
        (86_400, 3600.0, 0.5, 1800),  # a daily gateway: within the window
        (86_400, 3600.0, 0.999, 3596.4),
        (86_400, None, 0.25, 21_600),  # no window: the whole interval
        (60, 3600.0, 1.0, 60),
        (900, 0.0, 0.7, 0),  # a zero window: at once
    ],
)
def test_first_runs_spread_over_the_interval_or_the_window(
    interval_s: float, window_s: float | None, jitter: float, after_s: float
) -> None:
    """A gateway never scheduled (a fresh start) runs first at a random point of its interval,
    or of the start-up window when shorter: not all within 30 s (issue 12 item 5)."""
    policy = SchedulePolicy(first_run_window_s=window_s)
    when = startup_next_run(
        None, now=NOW, interval_s=interval_s, policy=policy, jitter_value=jitter
    )
    assert when == NOW + timedelta(seconds=after_s)


def test_first_runs_of_many_gateways_are_spread_out() -> None:
    """1,000 daily gateways with uniform draws: at most a handful start in any one minute."""
    policy = SchedulePolicy()
    starts = sorted(
        startup_next_run(None, now=NOW, interval_s=86_400, policy=policy, jitter_value=i / 1000)
        for i in range(1000)
    )
    per_minute = max(
        sum(1 for start in starts if minute <= (start - NOW).total_seconds() < minute + 60)
        for minute in range(0, 3600, 60)
    )
    assert per_minute <= 17
    assert starts[-1] - NOW <= timedelta(hours=1)


def test_startup_spread_never_exceeds_a_short_interval() -> None:
    """A 10 s interval spreads over 10 s, not the 30 s window."""
    when = startup_next_run(None, now=NOW, interval_s=10, policy=POLICY, jitter_value=1.0)
    assert when == NOW + timedelta(seconds=10)


@pytest.mark.parametrize(
    ("failures", "next_run", "state"),
    [
        (0, NOW + timedelta(hours=1), BreakerState.CLOSED),
        (2, NOW + timedelta(hours=1), BreakerState.CLOSED),
        (3, NOW + timedelta(hours=1), BreakerState.OPEN),
        (3, NOW, BreakerState.HALF_OPEN),
        (7, NOW - timedelta(seconds=1), BreakerState.HALF_OPEN),
        (7, None, BreakerState.HALF_OPEN),
    ],
)
def test_breaker_state(failures: int, next_run: datetime | None, state: BreakerState) -> None:
    """Open from the threshold until the backed-off next run, which is the half-open probe."""
    assert breaker_state(failures, next_run_at=next_run, now=NOW, policy=POLICY) is state


@pytest.mark.parametrize(
    ("state", "source", "allowed"),
    [
        (BreakerState.CLOSED, ChangeSource.WEBHOOK, True),
        (BreakerState.OPEN, ChangeSource.WEBHOOK, False),
        (BreakerState.OPEN, ChangeSource.POLL, False),
        (BreakerState.OPEN, ChangeSource.MANUAL, True),
        (BreakerState.HALF_OPEN, ChangeSource.WEBHOOK, True),
    ],
)
def test_trigger_allowed(state: BreakerState, source: ChangeSource, allowed: bool) -> None:
    """An open breaker refuses hints, never an admin's manual run."""
    assert trigger_allowed(state, source) is allowed


@pytest.mark.parametrize(
    ("last_full", "due"),
    [
        (None, True),
        (NOW - timedelta(hours=23), False),
        (NOW - timedelta(hours=24), True),
        (NOW - timedelta(days=3), True),
    ],
)
def test_full_resync_once_a_day(last_full: datetime | None, due: bool) -> None:
    """A run ignores validators when the last full one is a day old (or never happened)."""
    assert full_resync_due(last_full, now=NOW, every_s=24 * 60 * 60) is due
