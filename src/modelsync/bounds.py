"""PURE: the bounds every stored value keeps, and the check that finds an entry outside them.

A gateway's response is input from outside: a 10-byte price can be ``"1e999990"``, a context
length ``10**30``, an id ``../../x`` or 10 KB of control characters. Whatever a value that fails
here would do downstream (a megabyte string, an integer no database or JSON encoder takes, a path
that climbs out of ``/models/``, a NUL PostgreSQL refuses), it is stopped here, at one place, and
named: :func:`raw_entry_problem` (before normalizing) and :func:`model_problem` (after) return
the reason an entry is bad, or ``None``. The runner rejects a snapshot with a bad entry, naming it
(per-entry quarantine will set just that entry aside, with the same reasons).

The bounds (documented in the README):

==========================  ===============================================================
canonical id (``id``)       :data:`~modelsync.identity.CANONICAL_ID`: ``author/name(/...)``,
                            each segment ``[a-z0-9.-]`` starting with a letter or digit (so
                            never ``.`` or ``..``), at most 200 characters: safe as a URL path
                            and as a cache tag (``model:{id}``) as it stands
gateway model id (raw)      at most 256 characters; no control or format characters (C0, C1,
                            DEL, the bidirectional overrides, zero-width characters)
any string in an entry      no NUL (PostgreSQL stores none, in text or in JSON)
``context_length``,         a whole number of tokens from 1 to 100,000,000
``max_output_tokens``
every price                 USD per 1M tokens (per request, per image) from 0 to 1,000,000,
                            a non-zero one at least 1e-9, with at most 24 significant digits
``name``                    at most 1,000 characters
``description``             at most 100,000 characters
each list (modalities,      at most 500 items of at most 200 characters
parameters)
==========================  ===============================================================
"""

from __future__ import annotations

import re
from decimal import Decimal

from modelsync.domain import PRICE_FIELDS, Model
from modelsync.identity.resolve import CANONICAL_ID

MAX_CANONICAL_ID = 200
MAX_RAW_ID = 256
MAX_TOKENS = 100_000_000
MAX_PRICE = Decimal(1_000_000)
MIN_PRICE = Decimal("1e-9")
MAX_PRICE_DIGITS = 24
MAX_NAME = 1_000
MAX_DESCRIPTION = 100_000
MAX_LIST_ITEMS = 500
MAX_LIST_ITEM = 200
MAX_DECIMAL_EXPONENT = 30
"""A number as a gateway gives it (any unit) beyond 10**±30 is out of every bound once converted
(units scale by at most 10**6): parsing refuses it before any arithmetic, as out of range."""
MAX_NUMBER_DIGITS = 40
"""A numeric string longer than this is out of range before it is parsed at all."""

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]"
)
"""Control characters, and the invisible format characters that disguise text (bidirectional
overrides and isolates, zero-width spaces and joiners, the byte order mark)."""


def canonical_id_problem(model_id: str) -> str | None:
    """Why a canonical id is unsafe in a URL path or a cache tag, or ``None``."""
    if len(model_id) > MAX_CANONICAL_ID:
        return f"the canonical id is longer than {MAX_CANONICAL_ID} characters"
    if not CANONICAL_ID.fullmatch(model_id):
        return (
            f"the canonical id {shown_id(model_id)} is not author/name segments of [a-z0-9.-], "
            "each starting with a letter or digit"
        )
    return None


def raw_id_problem(raw_id: str) -> str | None:
    """Why a gateway model id (as the gateway gave it) cannot be stored, or ``None``."""
    if len(raw_id) > MAX_RAW_ID:
        return f"the id is {len(raw_id)} characters long (at most {MAX_RAW_ID})"
    found = _UNSAFE.search(raw_id)
    if found is not None:
        return f"the id holds the control or format character U+{ord(found.group()):04X}"
    return None


def raw_entry_problem(raw_id: str, raw_json: bytes) -> str | None:
    """Why a raw entry is bad before it is normalized: its id, or a NUL anywhere in it.

    ``raw_json`` is the entry as orjson writes it (a NUL is ``\\u0000`` there, never raw).
    """
    problem = raw_id_problem(raw_id)
    if problem is None and b"\\u0000" in raw_json:
        problem = "it holds a NUL character (\\u0000), which no database stores"
    return problem


def _tokens_problem(name: str, value: int | None) -> str | None:
    if value is None or 1 <= value <= MAX_TOKENS:
        return None
    shown = f"{value:.3e}" if abs(value) > 10**12 else str(value)
    return f"{name} {shown} is outside 1..{MAX_TOKENS:,} tokens"


def price_problem(name: str, value: Decimal | None) -> str | None:
    """Why a price (USD per 1M tokens, per request or per image) is out of bounds, or ``None``."""
    if value is None or value == 0:
        return None
    if not value.is_finite() or not MIN_PRICE <= value <= MAX_PRICE:
        shown = f"{value:.3e}" if value.is_finite() else str(value)
        return f"the {name} price {shown} is outside {MIN_PRICE}..{MAX_PRICE:,} USD"
    if len(value.normalize().as_tuple().digits) > MAX_PRICE_DIGITS:
        return f"the {name} price has more than {MAX_PRICE_DIGITS} significant digits"
    return None


def _text_problem(name: str, value: str | None, limit: int) -> str | None:
    if value is not None and len(value) > limit:
        return f"the {name} is {len(value):,} characters long (at most {limit:,})"
    return None


def _list_problem(name: str, items: tuple[str, ...]) -> str | None:
    if len(items) > MAX_LIST_ITEMS:
        return f"{name} has {len(items)} items (at most {MAX_LIST_ITEMS})"
    if any(len(item) > MAX_LIST_ITEM for item in items):
        return f"{name} has an item longer than {MAX_LIST_ITEM} characters"
    return None


def model_problem(model: Model) -> str | None:
    """Why a normalized model is outside the bounds (the first reason found), or ``None``."""
    checks = (
        canonical_id_problem(model.id),
        _tokens_problem("context_length", model.context_length),
        _tokens_problem("max_output_tokens", model.max_output_tokens),
        *(price_problem(name, getattr(model.pricing, name)) for name in PRICE_FIELDS),
        _text_problem("name", model.name, MAX_NAME),
        _text_problem("description", model.description, MAX_DESCRIPTION),
        _list_problem("input_modalities", model.input_modalities),
        _list_problem("output_modalities", model.output_modalities),
        _list_problem("supported_parameters", model.supported_parameters),
    )
    return next((problem for problem in checks if problem is not None), None)


def shown_id(raw_id: str, limit: int = 80) -> str:
    """An id for a message: quoted with every control character escaped, cut at ``limit``."""
    if len(raw_id) <= limit:
        return repr(raw_id)
    return repr(raw_id[:limit]) + f"... ({len(raw_id):,} characters)"
