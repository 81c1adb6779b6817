"""PURE: catalog values as a person reads them: prices per 1M tokens, token counts, times."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

UNKNOWN = "-"
FREE = "free"
CURRENCY = "USD"


def price(text: str | None, currency: str = CURRENCY) -> str:
    """A price per 1M tokens as stored (a decimal string): ``-`` unknown, ``free`` for 0, else
    at most 4 decimals (more only for a price below that) with its currency."""
    if text is None:
        return UNKNOWN
    try:
        value = Decimal(text)
    except InvalidOperation:
        return UNKNOWN
    if value == 0:
        return FREE
    return f"{decimal_text(value)} {currency}"


def decimal_text(value: Decimal) -> str:
    """``0.15``, ``2``, ``0.000075``: plain notation, trailing zeros dropped."""
    places = 4 if abs(value) >= Decimal("0.001") else 8
    rounded = round(value, places).normalize()
    text = f"{rounded:f}"
    return text if "." not in text else text.rstrip("0").rstrip(".")


def price_value(text: str | None) -> Decimal | None:
    """The stored decimal string as a number (``None`` unknown)."""
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def tokens(count: int | None) -> str:
    """``128k``, ``1M``, ``8,192``-like short forms; ``-`` unknown."""
    if count is None:
        return UNKNOWN
    if count >= 1_000_000 and count % 1_000_000 == 0:
        return f"{count // 1_000_000}M"
    if count >= 1_000_000:
        return f"{count / 1_000_000:.1f}M"
    if count >= 1000 and count % 1000 == 0:
        return f"{count // 1000}k"
    if count >= 1000:
        return f"{count / 1000:.1f}k"
    return str(count)


def exact(at: datetime | None) -> str:
    """The exact UTC time, for ``title`` and ``datetime`` attributes."""
    if at is None:
        return ""
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


UNITS = ((86_400, "d"), (3600, "h"), (60, "min"), (1, "s"))


def relative(at: datetime | None, now: datetime) -> str:
    """``3 min ago``, ``in 2 h``, ``just now``; empty for no time."""
    if at is None:
        return UNKNOWN
    seconds = (now - at).total_seconds()
    magnitude = abs(seconds)
    if magnitude < 5:
        return "just now"
    for size, unit in UNITS:
        if magnitude >= size:
            amount = int(magnitude // size)
            return f"{amount} {unit} ago" if seconds > 0 else f"in {amount} {unit}"
    return "just now"  # pragma: no cover - the last unit is one second


def duration(ms: int | None) -> str:
    """A run's duration: ``820 ms``, ``3.4 s``."""
    if ms is None:
        return UNKNOWN
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def interval(seconds: int) -> str:
    """A schedule's interval: ``15 min``, ``4 h``."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
