"""The gateway adapter interface, and the pure helpers every adapter parses with.

An adapter knows one list-models API shape. It never does I/O: the runner asks it which request
to send (:meth:`GatewayAdapter.first_request`), hands it each decoded page to learn whether there
is another (:meth:`GatewayAdapter.next_request`), then asks it to split the pages into raw entries
(:meth:`GatewayAdapter.entries`) and to normalize each entry into a :class:`~modelsync.domain.Model`
(:meth:`GatewayAdapter.normalize`). Both are pure, so the runner may memoize ``normalize`` by the
raw entry's bytes and skip entries that did not change since the last poll.

Any malformed input raises :class:`~modelsync.errors.PayloadError` with a message that names the
entry and the field.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from modelsync.bounds import MAX_DECIMAL_EXPONENT, MAX_NUMBER_DIGITS
from modelsync.domain import Model, Tier
from modelsync.errors import ConfigError, PayloadError
from modelsync.identity import Identity, IdentityInput, resolve


@dataclass(frozen=True, slots=True)
class PageRequest:
    """One GET to send: an absolute URL (upstream rewriting happens later), params and headers."""

    url: str
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    page: int = 1

    def following(
        self, *, url: str | None = None, params: Mapping[str, str] | None = None
    ) -> PageRequest:
        """The next page's request (same headers); past MAX_PAGES the cursor must be looping."""
        if self.page >= MAX_PAGES:
            raise PayloadError(f"more than {MAX_PAGES} pages: the pagination cursor loops")
        return PageRequest(
            url=self.url if url is None else url,
            params=self.params if params is None else params,
            headers=self.headers,
            page=self.page + 1,
        )


@dataclass(frozen=True, slots=True)
class Page:
    """One decoded page: the JSON document and the response headers (lower-case names)."""

    document: Any
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayConfig:
    """What an adapter needs to know about the gateway it serves, resolved from settings."""

    name: str
    base_url: str
    api_key: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewaySpec:
    """A gateway as the registry ships it (DESIGN section 4)."""

    name: str
    adapter: str
    tier: Tier
    base_url: str
    key_env: str | None
    key_required: bool
    options: Mapping[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()


RawEntry = tuple[str, Any]
"""``(gateway_model_id, raw JSON of that model)`` as an adapter splits its pages."""

MAX_PAGES = 200
"""A paginated list that needs more pages than this is treated as a looping cursor."""


class GatewayAdapter(ABC):
    """One list-models API shape. Subclasses set :attr:`kind` and implement the abstract methods."""

    kind: str = ""
    dialect: str | None = None
    """The id dialect this API implies whatever the gateway is called (Fireworks' account paths)."""
    default_params: Mapping[str, str] = {}
    """Query parameters every first request carries (``options["params"]`` adds to them)."""

    def __init__(self, gateway: str, *, id_dialect: str | None = None) -> None:
        self.gateway = gateway
        self.id_dialect = id_dialect or self.dialect or gateway
        """How this gateway spells model ids (:mod:`modelsync.identity.dialects`)."""
        self.filtered: dict[str, int] = {}
        """What the last :meth:`entries` dropped by design, counted by reason."""

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        """Headers that carry the key; ``Authorization: Bearer`` unless the API differs."""
        return {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def first_request(self, config: GatewayConfig) -> PageRequest:
        """The first (often only) request: the base URL, the parameters, the key's headers."""
        return PageRequest(
            url=config.base_url,
            params=request_params(config, self.default_params),
            headers=self.auth_headers(config.api_key),
        )

    def next_request(
        self, config: GatewayConfig, previous: PageRequest, page: Page
    ) -> PageRequest | None:
        """The request for the page after ``page``, or ``None`` when the listing is complete."""
        return None

    def fallback_request(self, request: PageRequest, status: int | None) -> PageRequest | None:
        """Another first request to send when ``request`` was refused with ``status`` (a
        richer listing the server does not offer), or ``None``: the refusal stands."""
        return None

    @abstractmethod
    def entries(self, pages: Sequence[Page]) -> Iterator[RawEntry]:
        """Split decoded pages into raw entries, dropping what is not a public model.

        What is dropped by design is counted in :attr:`filtered` (reset by each listing).
        """

    def drop(self, reason: str) -> None:
        """Count an entry :meth:`entries` leaves out on purpose."""
        self.filtered[reason] = self.filtered.get(reason, 0) + 1

    def model_objects(self, pages: Sequence[Page], key: str) -> Iterator[RawEntry]:
        """Each ``key[]`` item whose ``object`` is ``"model"`` (or absent); others counted."""
        self.filtered = {}
        for model_id, item in page_entries(self.gateway, pages, key):
            kind = item.get("object")
            if kind is None or kind == "model":
                yield model_id, item
            else:
                self.drop(f"object {kind!r}, not a model")

    def normalize(self, gateway_model_id: str, raw: Any) -> Model:
        """One raw entry to a normalized model. Pure; a PayloadError names the gateway and entry."""
        if type(raw) is Unreadable:  # no id to name it by: its place says where it was
            raise PayloadError(f"{gateway_model_id.strip('<>')}: {raw.reason}")
        where = f"{self.gateway} model {gateway_model_id!r}"
        if type(raw) is not dict:
            raise PayloadError(f"{where}: expected an object, got {type_name(raw)}")
        try:
            return self.build(gateway_model_id, raw)
        except PayloadError as error:
            raise PayloadError(f"{where}: {error}") from None

    @abstractmethod
    def build(self, gateway_model_id: str, raw: dict[str, Any]) -> Model:
        """The model of one entry; raise PayloadError naming the field that is wrong."""

    def identify(self, gateway_model_id: str, fields: Mapping[str, Any]) -> Identity:
        """The identity of an offer, from its raw entry or (the same keys) a stored ``extra``.

        Pure. Adapters whose gateway gives identity evidence (an ``owned_by``, a Hugging Face id)
        read it here, so a stored model can be re-identified when the rules change.
        """
        return self.resolve(gateway_model_id)

    def resolve(self, raw_id: str, *, author: Any = None, hf_id: Any = None) -> Identity:
        """:func:`modelsync.identity.resolve` in this gateway's dialect (non-string hints: none)."""
        return resolve(
            IdentityInput(
                self.gateway,
                raw_id,
                self.id_dialect,
                author if type(author) is str else None,
                hf_id if type(hf_id) is str else None,
            )
        )

    def stored_identity(self, model: Model) -> Identity:
        """Today's identity of a stored model (re-identification when the rules change)."""
        return self.identify(model.gateway_model_id, model.extra)

    def parse(self, pages: Sequence[Page]) -> list[Model]:
        """Every model of a listing, in order (tests and tools; the runner memoizes instead)."""
        return [self.normalize(model_id, raw) for model_id, raw in self.entries(pages)]


# --------------------------------------------------------------------------------------------
# Pure parsing helpers


def request_params(
    config: GatewayConfig, defaults: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The query parameters of a first request: ``defaults`` overridden by ``options["params"]``."""
    params = dict(defaults or {})
    extra = config.options.get("params")
    if extra is None:
        return params
    if not isinstance(extra, Mapping):
        raise ConfigError(f"gateway {config.name!r}: options.params must be a table of strings")
    for key, value in extra.items():
        params[str(key)] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return params


class Unreadable(dict[str, Any]):
    """An item of a listing that cannot be keyed (not an object, no id): an empty entry that
    carries the reason, so the snapshot quarantines it (adapters' filters see an empty object
    and pass it on). Its key is where it was (``"<page 1: data[17]>"``), never a model id."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


_RELEASING: ContextVar[bool] = ContextVar("modelsync_releasing_entries", default=False)


@contextmanager
def releasing_entries() -> Iterator[None]:
    """Within it, :func:`listed_entries` lets go of each item of the listed array (its slot set
    to ``None``) once the consumer asks for the next: the one reading of a listing frees the
    decoded document entry by entry, as it goes, instead of holding all of it until the end
    (the runner reads a snapshot so; the pages are done with afterwards). What the consumer
    kept of an entry stays alive through its own references."""
    token = _RELEASING.set(True)
    try:
        yield
    finally:
        _RELEASING.reset(token)


def listed_entries(items: list[Any], where: str, id_key: str = "id") -> Iterator[RawEntry]:
    """``(id, entry)`` per object of a listed array; a non-object or a missing id is yielded
    as an :class:`Unreadable` entry keyed by its place (the snapshot quarantines it). Within
    :func:`releasing_entries`, each item is dropped from ``items`` once it was consumed."""
    release = _RELEASING.get()
    for index, item in enumerate(items):
        place = f"<{where}[{index}]>"
        if type(item) is not dict:
            yield place, Unreadable(f"expected an object, got {type_name(item)}")
        else:
            model_id = item.get(id_key)
            if type(model_id) is not str or not model_id.strip():
                shown = repr(model_id) if len(repr(model_id)) <= 80 else type_name(model_id)
                yield place, Unreadable(f"{id_key} must be a non-empty string, got {shown}")
            else:
                yield model_id, item
        if release:
            items[index] = None


def page_entries(
    gateway: str, pages: Sequence[Page], key: str, *, id_key: str = "id"
) -> Iterator[RawEntry]:
    """``(id, entry)`` for every object of every page's ``key`` array."""
    for number, page in enumerate(pages, 1):
        where = f"{gateway} page {number}"
        items = expect_list(expect_dict(page.document, where).get(key), f"{where}: {key}")
        yield from listed_entries(items, f"{where}: {key}", id_key)


def expect_dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{where}: expected an object, got {type_name(value)}")
    return value


def expect_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise PayloadError(f"{where}: expected a list, got {type_name(value)}")
    return value


def type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def optional_str(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{where}: {key} must be a string, got {type_name(value)}")
    return value


def positive_int(value: Any, what: str) -> int | None:
    """A token count: ``None`` for missing, zero or negative ("unknown", never 0)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, float) and value.is_integer():
        return int(value) if value > 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        if len(value.strip()) > MAX_NUMBER_DIGITS:
            raise PayloadError(f"{what} has {len(value.strip()):,} digits: out of range")
        number = int(value)
        return number if number > 0 else None
    raise PayloadError(f"{what} must be a whole number, got {value!r}")


@lru_cache(maxsize=8192)
def _decimal(value: str | int | float) -> Decimal:
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise InvalidOperation(value)
    if number and not -MAX_DECIMAL_EXPONENT <= number.adjusted() <= MAX_DECIMAL_EXPONENT:
        raise OverflowError(value)
    return number


def to_decimal(value: Any, what: str) -> Decimal | None:
    """A price as given (number or numeric string) to ``Decimal``; ``None`` for null or empty.

    Floats go through their shortest ``repr`` so ``5e-07`` stays ``0.0000005`` exactly.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise PayloadError(f"{what} must be a number, got {value!r}")
    if isinstance(value, str) and len(value) > MAX_NUMBER_DIGITS * 2:
        raise PayloadError(f"{what} is a {len(value):,}-character string, not a price")
    try:
        return _decimal(value.strip() if isinstance(value, str) else value)
    except OverflowError:
        raise PayloadError(f"{what} {value!r} is out of range") from None
    except (InvalidOperation, ValueError):
        raise PayloadError(f"{what} must be a number, got {value!r}") from None


def price(
    value: Any, what: str, *, scale: int = 0, unknown_below_zero: bool = True
) -> Decimal | None:
    """A price in USD per 1M tokens from a value in the gateway's unit.

    ``scale`` is the power of ten that turns the gateway's unit into USD per 1M tokens: 6 for USD
    per token, 0 for USD per 1M, -4 for xAI's cents per 100M tokens, -3 for nano-USD per token. A
    negative price (OpenRouter's ``"-1"`` on router models) means "variable": unknown, ``None``.
    """
    number = to_decimal(value, what)
    if number is None:
        return None
    if number < 0:
        if unknown_below_zero:
            return None
        raise PayloadError(f"{what} must not be negative, got {value!r}")
    return _scaled(number, scale)


@lru_cache(maxsize=8192)
def _scaled(number: Decimal, scale: int) -> Decimal:
    return number.scaleb(scale).normalize() if number else Decimal(0)


def sorted_strings(value: Any, what: str) -> tuple[str, ...]:
    """A list of strings as a sorted, de-duplicated tuple (modalities, parameters)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PayloadError(f"{what} must be a list of strings, got {value!r}")
    return tuple(sorted(set(value)))


def split_author(raw_id: str) -> tuple[str | None, str]:
    """``"meta-llama/Llama-3"`` -> ``("meta-llama", "Llama-3")``; no slash -> ``(None, raw_id)``."""
    author, sep, rest = raw_id.partition("/")
    if sep and author and rest:
        return author, rest
    return None, raw_id


# Hot-path helpers (memoized); callers wrap a PayloadError with the entry's id.


def optional_text(value: Any, what: str) -> str | None:
    """A string field: ``None`` for null or empty; any other type is a PayloadError."""
    if value is None or value == "":
        return None
    if type(value) is not str:
        raise PayloadError(f"{what} must be a string, got {type_name(value)}")
    return value


def optional_dict(value: Any, what: str) -> dict[str, Any]:
    """An optional object: ``{}`` for null; any other non-object (even ``[]``) is a PayloadError."""
    return {} if value is None else expect_dict(value, what)


def optional_list(value: Any, what: str) -> list[Any]:
    """An optional list: ``[]`` for null; any other non-list (even ``{}``) is a PayloadError."""
    return [] if value is None else expect_list(value, what)


def string_tuple(value: Any, what: str) -> tuple[str, ...]:
    """:func:`sorted_strings`, memoized on the list's contents (catalogs repeat a few lists)."""
    if value is None:
        return ()
    try:  # an unhashable item (a dict, a list) is not a string either: TypeError
        result = _string_tuple(tuple(value)) if type(value) is list else None
    except TypeError:
        result = None
    if result is not None:
        return result
    raise PayloadError(f"{what} must be a list of strings, got {value!r}")


@lru_cache(maxsize=4096)
def _string_tuple(items: tuple[Any, ...]) -> tuple[str, ...] | None:
    if not all(type(item) is str for item in items):
        return None
    return tuple(sorted(set(items)))


def iso_date(value: Any, what: str) -> str | None:
    """``YYYY-MM-DD`` from an ISO date or datetime (its own calendar date) or Unix s (or ms)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = _iso_date_text(value.strip())
        if text is not None:
            return text
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        seconds = value / 1000 if value > 10**11 else value  # 10**11 s is the year 5138
        try:
            return datetime.fromtimestamp(seconds, UTC).date().isoformat()
        except (OverflowError, OSError, ValueError):
            pass
    raise PayloadError(f"{what} must be an ISO date or a Unix time, got {value!r}")


@lru_cache(maxsize=1024)
def _iso_date_text(text: str) -> str | None:
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        return datetime.fromisoformat(text).date().isoformat()
    except ValueError:
        return None


Offer = tuple[str, Decimal, Decimal]
"""``(provider, prompt, completion)``: one priced offer of a model on a multi-provider gateway."""


def cheapest(offers: Iterable[Offer]) -> Offer | None:
    """Lowest prompt + completion, then lowest prompt, then provider: order-independent."""
    return min(offers, key=lambda offer: (offer[1] + offer[2], offer[1], offer[0]), default=None)
