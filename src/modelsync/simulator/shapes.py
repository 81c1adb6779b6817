"""What the simulator knows about each gateway's raw model entry: where the id, display name,
prices and creation time live, and in which unit the prices are written.

Paths are dotted (``pricing.prompt``); a ``*`` segment stands for every item of a list
(``providers.*.pricing.input``), a numeric segment for one item. Every editor is pure over the
entry it is given (it edits that entry in place and returns what changed); nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any


class PriceUnit(StrEnum):
    """How a gateway writes a price, which decides how a reprice rounds it."""

    DECIMAL_STRING = "decimal_string"  # "0.000003" (USD per token)
    NUMBER = "number"  # 0.88 or 3 (USD per 1M tokens)
    INTEGER = "integer"  # 30000 (xAI cents per 100M tokens, NEAR nano-USD per token)


@dataclass(frozen=True, slots=True, kw_only=True)
class Shape:
    """One gateway's entry layout. ``list_key`` is ``None`` for a bare JSON array."""

    gateway: str
    list_key: str | None
    id_path: str = "id"
    id_prefix: str = ""
    name_path: str | None = None
    price_paths: tuple[str, ...] = ()
    price_unit: PriceUnit = PriceUnit.DECIMAL_STRING
    created_path: str | None = None
    created_iso: bool = False
    id_copies: tuple[str, ...] = ()
    """Paths that repeat the id (a slug, a Hugging Face id) and follow it when a model is added."""

    @property
    def has_prices(self) -> bool:
        """Whether the list API carries prices at all."""
        return bool(self.price_paths)


_OR_PRICES = ("pricing.prompt", "pricing.completion")

SHAPES: Mapping[str, Shape] = {
    shape.gateway: shape
    for shape in (
        Shape(gateway="openrouter", list_key="data", name_path="name", price_paths=_OR_PRICES,
              created_path="created", id_copies=("canonical_slug",)),
        Shape(gateway="groq", list_key="data", created_path="created"),
        Shape(gateway="together", list_key=None, name_path="display_name",
              price_paths=("pricing.input", "pricing.output"), price_unit=PriceUnit.NUMBER,
              created_path="created"),
        Shape(gateway="fireworks", list_key="data", created_path="created"),
        Shape(gateway="google", list_key="models", id_path="name", id_prefix="models/",
              name_path="displayName"),
        Shape(gateway="cerebras", list_key="data", created_path="created"),
        Shape(gateway="nebius", list_key="data", name_path="name", price_paths=_OR_PRICES,
              created_path="created"),
        Shape(gateway="xai", list_key="models",
              price_paths=("prompt_text_token_price", "completion_text_token_price"),
              price_unit=PriceUnit.INTEGER, created_path="created"),
        Shape(gateway="huggingface", list_key="data",
              price_paths=("providers.*.pricing.input", "providers.*.pricing.output"),
              price_unit=PriceUnit.NUMBER, created_path="created"),
        Shape(gateway="aimo", list_key="data", id_path="name", name_path="display_name",
              price_paths=("providers.*.pricing.prompt", "providers.*.pricing.completion"),
              created_path="created", id_copies=("canonical_slug",)),
        Shape(gateway="near", list_key="models", id_path="modelId",
              name_path="metadata.modelDisplayName",
              price_paths=("inputCostPerToken.amount", "outputCostPerToken.amount"),
              price_unit=PriceUnit.INTEGER, id_copies=("metadata.huggingFaceId",)),
        Shape(gateway="fal", list_key="models", id_path="endpoint_id",
              name_path="metadata.display_name", created_path="metadata.date", created_iso=True),
        Shape(gateway="vercel-ai-gateway", list_key="data", name_path="name",
              price_paths=("pricing.input", "pricing.output"), created_path="created"),
    )
}  # fmt: skip
"""Every built-in gateway's shape, by registry name."""


class PathError(ValueError):
    """A path that does not lead anywhere in the entry (or tries to index a non-container)."""


def split_path(path: str) -> list[str]:
    """``"a.b.0"`` -> ``["a", "b", "0"]``; an empty segment is an error."""
    parts = path.split(".")
    if not path or any(not part for part in parts):
        raise PathError(f"bad field path {path!r}")
    return parts


def expand(entry: Any, path: str) -> Iterator[str]:
    """The concrete paths a ``*`` path stands for in ``entry`` (only those whose parent exists)."""
    yield from _expand(entry, split_path(path), [])


def _expand(node: Any, parts: list[str], done: list[str]) -> Iterator[str]:
    if not parts:
        yield ".".join(done)
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        if isinstance(node, list):
            for index, item in enumerate(node):
                yield from _expand(item, rest, [*done, str(index)])
        return
    if isinstance(node, dict) and (head in node or not rest):
        yield from _expand(node.get(head), rest, [*done, head])


def get_path(entry: Any, path: str) -> Any:
    """The value at ``path``, or ``None`` where any step is missing."""
    node = entry
    for part in split_path(path):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def set_path(entry: Any, path: str, value: Any) -> Any:
    """Set ``path`` to ``value``, creating missing objects; returns the previous value."""
    parts = split_path(path)
    node = entry
    for part in parts[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(part, {})
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise PathError(f"cannot follow {path!r} at {part!r}")
    last = parts[-1]
    if isinstance(node, dict):
        previous = node.get(last)
        node[last] = value
        return previous
    if isinstance(node, list) and last.isdigit() and int(last) < len(node):
        previous = node[int(last)]
        node[int(last)] = value
        return previous
    raise PathError(f"cannot set {path!r}: its parent is not an object")


def entry_id(shape: Shape, entry: Any) -> str:
    """The id as the gateway's adapter sees it (Google's ``models/`` prefix removed)."""
    raw = get_path(entry, shape.id_path)
    text = raw if isinstance(raw, str) else str(raw)
    return text.removeprefix(shape.id_prefix) if shape.id_prefix else text


def set_entry_id(shape: Shape, entry: dict[str, Any], model_id: str) -> None:
    """Write ``model_id`` (without any prefix) into the entry's id field and its copies."""
    set_path(entry, shape.id_path, shape.id_prefix + model_id.removeprefix(shape.id_prefix))
    for path in shape.id_copies:
        if get_path(entry, path) is not None:
            set_path(entry, path, model_id)


def priced_paths(shape: Shape, entry: Any) -> list[str]:
    """The concrete price paths of ``entry`` that hold a non-negative number (or numeric text)."""
    found = []
    for pattern in shape.price_paths:
        for path in expand(entry, pattern):
            number = as_decimal(get_path(entry, path))
            if number is not None and number >= 0:
                found.append(path)
    return found


def as_decimal(value: Any) -> Decimal | None:
    """A price value as ``Decimal``; ``None`` when it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = Decimal(repr(value) if isinstance(value, float) else value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def scale_price(value: Any, factor: Decimal, unit: PriceUnit) -> Any:
    """``value`` times ``factor``, written back in the gateway's unit and type."""
    number = as_decimal(value)
    if number is None:
        raise PathError(f"price {value!r} is not a number")
    scaled = number * factor
    if unit is PriceUnit.INTEGER:
        return int(scaled.to_integral_value())
    if unit is PriceUnit.NUMBER:
        rounded = round(scaled, 9).normalize()
        return int(rounded) if rounded == rounded.to_integral_value() else float(rounded)
    text = format(scaled.normalize(), "f")
    return "0" if scaled == 0 else text
