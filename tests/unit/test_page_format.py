"""PURE pieces of the pages (issue 10): prices, token counts and times as people read them, the
cheapest offer, price moves, and the status sparklines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest

from modelsync.pages import format as fmt
from modelsync.pages.charts import Point, sparkline
from modelsync.pages.views import (
    Change,
    FieldChange,
    Offer,
    cheapest,
    largest_moves,
    offer_from_row,
    price_moves,
    shown,
)
from modelsync.store.served import sqlite_time_text

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("stored", "shown"), [
    (None, "-"),
    ("0", "free"),
    ("0.000", "free"),
    ("0.15", "0.15 USD"),
    ("2", "2 USD"),
    ("2.50", "2.5 USD"),
    ("15.123456", "15.1235 USD"),
    ("0.000075", "0.000075 USD"),
    ("not a number", "-"),
])  # fmt: skip
def test_prices_per_million_tokens(stored: str | None, shown: str) -> None:
    """Unknown is "-" (never 0), zero is "free", else the decimal with its currency."""
    assert fmt.price(stored) == shown


@pytest.mark.parametrize(("count", "shown"), [
    (None, "-"), (512, "512"), (8192, "8.2k"), (128_000, "128k"), (1_000_000, "1M"),
    (1_048_576, "1.0M"), (2_000_000, "2M"),
])  # fmt: skip
def test_token_counts(count: int | None, shown: str) -> None:
    assert fmt.tokens(count) == shown


@pytest.mark.parametrize(("delta_s", "shown"), [
    (0, "just now"), (3, "just now"), (42, "42 s ago"), (180, "3 min ago"), (7200, "2 h ago"),
    (3 * 86400, "3 d ago"), (-300, "in 5 min"),
])  # fmt: skip
def test_relative_times(delta_s: float, shown: str) -> None:
    """Relative to the page's render time; the exact UTC time goes in the title."""
    assert fmt.relative(NOW - timedelta(seconds=delta_s), NOW) == shown
    assert fmt.exact(NOW) == "2026-05-01 12:00:00 UTC"
    assert fmt.relative(None, NOW) == "-"


def test_durations_and_intervals() -> None:
    assert [fmt.duration(820), fmt.duration(3400), fmt.duration(None)] == ["820 ms", "3.4 s", "-"]
    assert [fmt.interval(900), fmt.interval(14400), fmt.interval(45)] == ["15 min", "4 h", "45 s"]


def offer(gateway: str, prompt: str | None, completion: str | None = "1", **kw: Any) -> Offer:
    values: dict[str, Any] = {
        "gateway": gateway, "gateway_model_id": "m", "id": "a/m", "name": "M", "description": "",
        "provider": "a", "context_length": None, "max_output_tokens": None, "prompt": prompt,
        "completion": completion, "input_modalities": (), "output_modalities": (),
        "tools": False, "status": "active", "first_seen_at": NOW, "last_seen_at": NOW,
        "updated_at": NOW,
    }  # fmt: skip
    return Offer(**(values | kw))


def test_the_cheapest_offer_is_the_lowest_known_current_prompt_price() -> None:
    """Unknown prices and removed offers never win; ties go to the completion price."""
    offers = [
        offer("a", None),
        offer("b", "0.5", "2"),
        offer("c", "0.5", "1"),
        offer("d", "0.1", status="removed"),
    ]
    best = cheapest(offers)
    assert best is not None
    assert best.gateway == "c"
    assert cheapest([offer("a", None)]) is None


def change(seq: int, fields: dict[str, Any]) -> Change:
    return Change(seq, "g", "m", "a/m", "updated", "poll", NOW, (), fields)


def test_price_moves_rank_drops_and_rises_by_ratio() -> None:
    """Only known-to-known moves from a non-zero price count; largest relative first."""
    changes = [
        change(1, {"pricing.prompt": ["1", "0.5"]}),
        change(2, {"pricing.prompt": ["1", "0.1"], "pricing.completion": ["2", "4"]}),
        change(3, {"pricing.prompt": [None, "1"]}),
        change(4, {"pricing.prompt": ["0", "1"]}),
        change(5, {"name": ["a", "b"]}),
    ]
    moves = price_moves(changes)
    drops = largest_moves(moves, drops=True)
    rises = largest_moves(moves, drops=False)
    assert [(m.change.seq, m.new) for m in drops] == [(2, Decimal("0.1")), (1, Decimal("0.5"))]
    assert [(m.change.seq, m.field) for m in rises] == [(2, "pricing.completion")]
    assert drops[0].percent == "-90%"
    assert rises[0].percent == "+100%"


def test_sparklines_are_escaped_svg_with_failed_runs_marked() -> None:
    """A polyline of the good runs, a red dot per failed one, the title escaped."""
    points = [
        Point(NOW - timedelta(hours=3), 100),
        Point(NOW - timedelta(hours=2), 300),
        Point(NOW - timedelta(hours=1), 0, failed=True),
    ]
    svg = sparkline(points, title="<b>g</b>", start=NOW - timedelta(days=1), end=NOW)
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert "<polyline" in svg
    assert svg.count('class="fail"') == 1
    assert "<b>" not in svg
    assert "&lt;b&gt;" in svg
    empty = sparkline([], title="none", start=NOW - timedelta(days=1), end=NOW)
    assert "<polyline" not in empty


def test_field_changes_show_prices_lists_and_nulls() -> None:
    assert shown("pricing.prompt", "0") == "free"
    assert shown("pricing.prompt", None) == "-"
    assert shown("input_modalities", ["image", "text"]) == "image, text"
    assert shown("context_length", None) == "-"
    assert FieldChange("a", "b", "c").new == "c"


def test_an_offer_row_shows_prices_by_another_unit_and_their_source() -> None:
    """fal's per-image price and a price taken from a reference catalog are said as such."""
    data = {
        "gateway": "fal", "gateway_model_id": "fal-ai/flux", "id": "fal-ai/flux", "name": "Flux",
        "pricing": {"prompt": None, "unit_price": "0.04", "per_unit": "image",
                    "source": "models.dev@2026-06-13"},
        "status": "active",
    }  # fmt: skip
    stamp = "2026-05-01 12:00:00.000000"
    row = (1, orjson.dumps(data), "present", "active", stamp, stamp, stamp)
    found = offer_from_row(row, sqlite_time_text)
    assert found.other_price == "0.04 USD per image"
    assert found.price_source == "models.dev@2026-06-13"
    assert found.prompt is None
    assert found.first_seen_at == NOW
