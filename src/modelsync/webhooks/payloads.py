"""The webhook payload (DESIGN section 8): strict pydantic models, parsed after verification.

A body is one event or a non-empty JSON list of events::

    {"gateway": "openrouter", "event_type": "models.updated", "timestamp": 1767225600000,
     "models": [{"id": "openai/gpt-4o", "name": "GPT-4o", "provider_slug": "openai", ...}]}

Types are strict (no ``"123"`` for an int, no ``true`` for a string). Fields beyond the documented
ones are accepted and dropped, on events and models alike. A ``models.*`` event names at least one
model; ``gateway.status_changed`` may name none. The gateway must be a known name or alias, and is
replaced by its canonical name.

Speed: one event may carry thousands of models, so models validate as a ``TypedDict`` (plain
dicts out, no model objects) after one :func:`orjson.loads`. Errors: invalid JSON is a
:class:`~modelsync.errors.WebhookPayloadError` with status 400; valid JSON of the wrong shape is
422, its message naming the field path (``[1].models[3].id: Field required``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Annotated, Any, Literal, NotRequired, get_args

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    with_config,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from modelsync.errors import WebhookPayloadError

EventType = Literal["models.added", "models.updated", "models.removed", "gateway.status_changed"]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
MAX_REPORTED_ERRORS = 5
"""A 422 message lists at most this many problems (a 5,000-model event can have 5,000)."""

ModelId = Annotated[str, StringConstraints(min_length=1, max_length=512)]


@with_config(ConfigDict(extra="ignore", strict=True))
class WebhookModel(TypedDict):
    """One model an event names; only ``id`` is required, other fields are accepted and dropped."""

    id: ModelId
    name: NotRequired[str | None]
    provider_slug: NotRequired[str | None]


class WebhookEvent(BaseModel):
    """One event: what happened to which models of which gateway, and when (ms since epoch)."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    gateway: str = Field(min_length=1, max_length=100)
    event_type: EventType
    models: list[WebhookModel] = Field(default_factory=list)
    timestamp: int = Field(ge=0)

    @field_validator("gateway")
    @classmethod
    def _known_gateway(cls, value: str, info: ValidationInfo) -> str:
        """Map a known name or alias to the canonical name (the context carries the table)."""
        known: Mapping[str, str] | None = (info.context or {}).get("gateways")
        if known is None:
            return value
        canonical = known.get(value)
        if canonical is None:
            raise PydanticCustomError(
                "unknown_gateway", "unknown gateway {gateway}", {"gateway": repr(value[:100])}
            )
        return canonical

    @field_validator("models")
    @classmethod
    def _models_named(cls, value: list[WebhookModel], info: ValidationInfo) -> list[WebhookModel]:
        """A ``models.*`` event must name at least one model."""
        event_type = info.data.get("event_type")
        if not value and event_type is not None and event_type != "gateway.status_changed":
            raise PydanticCustomError(
                "no_models",
                "a {event_type} event needs at least one model",
                {"event_type": event_type},
            )
        return value

    @property
    def model_ids(self) -> list[str]:
        """The ids of the models this event names, in order."""
        return [model["id"] for model in self.models]


_EVENT_LIST = TypeAdapter(list[WebhookEvent])


def gateway_table(known: Collection[str] | Mapping[str, str]) -> dict[str, str]:
    """``name or alias -> canonical name`` from a collection of names or such a mapping."""
    if isinstance(known, Mapping):
        return dict(known)
    return {name: name for name in known}


def load_document(body: bytes) -> Any:
    """Parse the body's JSON; invalid JSON is a WebhookPayloadError with status 400."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"  # the parser's own text is not echoed
        raise WebhookPayloadError(f"invalid JSON at {where}", status_code=400) from exc


def validate_events(document: Any, gateways: Mapping[str, str]) -> tuple[WebhookEvent, ...]:
    """Validate a parsed body as one event or a non-empty list of events (422 otherwise)."""
    context = {"gateways": gateways}
    try:
        if isinstance(document, dict):
            return (WebhookEvent.model_validate(document, context=context),)
        if isinstance(document, list):
            if not document:
                raise WebhookPayloadError("expected at least one event, got an empty list")
            return tuple(_EVENT_LIST.validate_python(document, context=context))
    except ValidationError as exc:
        raise WebhookPayloadError(describe_errors(exc)) from exc
    raise WebhookPayloadError(
        f"expected an event object or a list of events, got {type(document).__name__}"
    )


def parse_events(body: bytes, gateways: Mapping[str, str]) -> tuple[WebhookEvent, ...]:
    """:func:`load_document` then :func:`validate_events`."""
    return validate_events(load_document(body), gateways)


def describe_errors(exc: ValidationError) -> str:
    """``path: message`` for the first few errors, and how many more there were."""
    errors = exc.errors(include_url=False, include_input=False)
    parts = [
        f"{field_path(error['loc'])}: {error['msg']}" for error in errors[:MAX_REPORTED_ERRORS]
    ]
    if len(errors) > MAX_REPORTED_ERRORS:
        parts.append(f"(+{len(errors) - MAX_REPORTED_ERRORS} more)")
    return "; ".join(parts)


def field_path(loc: tuple[int | str, ...]) -> str:
    """``(1, "models", 3, "id")`` -> ``[1].models[3].id``; the root is ``body``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path or "body"
