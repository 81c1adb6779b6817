"""PURE: the status page's sparklines, as SVG text (no chart library).

A sparkline is a polyline of values over time, scaled to its box, with a title (its summary) for
screen readers and on hover; a failed run is a red dot at its place on the time axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

WIDTH = 160
HEIGHT = 32
PAD = 3


@dataclass(frozen=True, slots=True)
class Point:
    at: datetime
    value: float
    failed: bool = False


def sparkline(points: Sequence[Point], *, title: str, start: datetime, end: datetime) -> str:
    """An inline SVG of ``points`` between ``start`` and ``end`` (empty box when none)."""
    span = max((end - start).total_seconds(), 1.0)
    good = [point for point in points if not point.failed]
    values = [point.value for point in good]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if high == low:
        low, high = low - 1, high + 1

    def x(at: datetime) -> float:
        share = min(max((at - start).total_seconds() / span, 0.0), 1.0)
        return round(PAD + share * (WIDTH - 2 * PAD), 1)

    def y(value: float) -> float:
        return round(HEIGHT - PAD - (value - low) / (high - low) * (HEIGHT - 2 * PAD), 1)

    line = " ".join(f"{x(point.at)},{y(point.value)}" for point in good)
    parts = [
        f'<svg class="spark" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    if len(good) > 1:
        parts.append(f'<polyline points="{line}"/>')
    elif good:
        parts.append(f'<circle cx="{x(good[0].at)}" cy="{y(good[0].value)}" r="2"/>')
    parts.extend(
        f'<circle class="fail" cx="{x(point.at)}" cy="{HEIGHT - PAD}" r="2"/>'
        for point in points
        if point.failed
    )
    parts.append("</svg>")
    return "".join(parts)
