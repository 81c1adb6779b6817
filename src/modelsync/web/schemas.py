"""Response models of the JSON API: what ``/openapi.json`` promises, exactly.

Every object is closed (``additionalProperties: false``): an answer holds the documented keys
and no others. The read routes write their answers with orjson, unvalidated on the hot path;
``tests/web/test_api_reads.py`` validates each against these schemas instead.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Outcome = Literal["changed", "unchanged", "not_modified", "failed", "rejected", "disabled"]
Health = Literal["pending", "ok", "degraded", "failing", "disabled"]


class Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ErrorOut(Out):
    detail: str | list[dict[str, Any]]


class QuarantinedOut(Out):
    id: str = Field(
        description="The gateway model id, or where an entry without a usable id was "
        "(<page 1: data[17]>)"
    )
    reason: str


_QUARANTINED = (
    "Entries that failed validation and were set aside, each with its reason; their models "
    "are kept as they were (never counted missing)"
)
_FILTERED = (
    "Entries the adapter leaves out by design (other accounts, training endpoints...), by reason"
)


class RunSummaryOut(Out):
    gateway: str
    outcome: Outcome
    added: int
    updated: int
    removed: int
    restored: int
    missing: int
    total_models: int
    duration_ms: int
    error: str | None
    quarantined: list[QuarantinedOut] = Field(description=_QUARANTINED)
    filtered: dict[str, int] = Field(description=_FILTERED)
    warnings: list[str] = Field(
        description="What went wrong without failing the run (fal's pricing API down: prices "
        "kept).",
    )


class SyncReportOut(Out):
    catalog_version: int
    gateways: list[RunSummaryOut]


class SyncAcceptedOut(Out):
    status: Literal["accepted"]
    gateways: list[str]
    status_url: str


class LastRunOut(Out):
    id: int
    trigger: str
    outcome: Outcome
    started_at: str
    finished_at: str
    duration_ms: int
    added: int
    updated: int
    removed: int
    restored: int
    missing: int
    total_models: int
    http_status: int | None
    bytes: int
    error: str | None
    quarantined: list[QuarantinedOut] = Field(description=_QUARANTINED)
    filtered: dict[str, int] = Field(description=_FILTERED)


class LastWebhookOut(Out):
    received_at: str
    event_types: list[str]
    models: int
    scheme: str
    process: str | None = None
    """The serving process that accepted it."""


class GatewayStatusOut(Out):
    gateway: str
    status: Health
    tier: str
    interval_s: int
    last_attempt_at: str | None
    last_success_at: str | None
    last_outcome: Outcome | None
    last_error: str | None
    consecutive_failures: int
    next_run_at: str | None
    model_count: int
    version: int
    quarantined: list[QuarantinedOut] = Field(
        description="The entries the last snapshot read set aside: quarantined now"
    )
    breaker: Literal["closed", "open", "half_open"]
    running: bool
    last_run: LastRunOut | None
    last_webhook: LastWebhookOut | None


class ProcessOut(Out):
    owner: str
    started_at: str
    scheduler_alive: bool
    running: list[str]


class FleetProcessOut(Out):
    """A serving process of the fleet, from the store's registry."""

    id: str
    host: str
    pid: int
    version: str
    started_at: str
    applied_version: int
    last_seen_at: str
    behind_s: float
    lagging: bool


class FeedOut(Out):
    """This process's tail of the change log (:mod:`modelsync.bus`)."""

    applied_catalog_version: int
    last_seq: int
    mode: str = Field(description="listen (PostgreSQL notifications) or poll")
    subscribers: int
    batches: int


class PurgerOut(Out):
    """One outbound purger's record (:mod:`modelsync.purge`)."""

    queue_depth: int
    failures: int
    sent_calls: int
    refused_keys: int
    last_success_at: str | None
    last_failure_at: str | None
    last_error: str | None


class ReferenceOut(Out):
    """One reference price catalog (models.dev, LiteLLM): where prices missing from a gateway's
    listing come from (:mod:`modelsync.reference`)."""

    name: str
    url: str
    interval_s: int
    fetched_at: str | None = Field(description="when its price table last changed")
    source: str | None = Field(description="the price source named on the offers it enriches")
    last_error: str | None
    pending: list[str] = Field(description="gateways still to be repriced from its table")


class StatusOut(Out):
    catalog_version: int
    processes: list[FleetProcessOut]
    process: ProcessOut
    feed: FeedOut
    purgers: dict[str, PurgerOut] = Field(
        description="each configured outbound purger, by name (nextjs, fastly, cloudflare)"
    )
    references: list[ReferenceOut] = Field(
        description="the reference price catalogs, when any is enabled"
    )
    gateways: list[GatewayStatusOut]


_PER_1M = "USD per 1M tokens, as a decimal string; null when unknown"


class PriceUnitsOut(Out):
    """The unit of each price field of ``pricing``."""

    prompt: Literal["usd_per_1m_tokens"]
    completion: Literal["usd_per_1m_tokens"]
    cache_read: Literal["usd_per_1m_tokens"]
    cache_write: Literal["usd_per_1m_tokens"]
    request: Literal["usd_per_request"]
    image: Literal["usd_per_image"]
    web_search: Literal["usd_per_request"]
    internal_reasoning: Literal["usd_per_1m_tokens"]
    audio: Literal["usd_per_1m_tokens"]
    unit_price: str | None = Field(
        description="usd_per_<per_unit> (usd_per_image, usd_per_second...), null without one"
    )


class PricingOut(Out):
    """An offer's prices, each with its unit (``units``) and where they came from (``source``)."""

    prompt: str | None = Field(description=_PER_1M)
    completion: str | None = Field(description=_PER_1M)
    cache_read: str | None = Field(description=_PER_1M + " (cached input)")
    cache_write: str | None = Field(description=_PER_1M + " (cache writes)")
    request: str | None = Field(description='USD per request; "0" and null are the same price')
    image: str | None = Field(description="USD per input image (OpenRouter's image price)")
    web_search: str | None = Field(description="USD per web search request")
    internal_reasoning: str | None = Field(description=_PER_1M + " (reasoning tokens)")
    audio: str | None = Field(description=_PER_1M + " (audio tokens)")
    unit_price: str | None = Field(
        description="USD per per_unit, for an offer priced by another unit than tokens "
        "(fal: per image, per second, per megapixel...)"
    )
    per_unit: str | None = Field(description="The unit unit_price is per (image, second...)")
    unit: Literal["usd_per_1m_tokens"] = Field(
        description="The unit of the token price fields (prompt, completion, cache_*, "
        "internal_reasoning, audio)"
    )
    units: PriceUnitsOut
    source: str | None = Field(
        description="Where the prices came from: gateway (its own API), or a reference catalog "
        "as <catalog>@<fetched_at> (models.dev@..., litellm@...); null without prices"
    )


class ModelOut(Out):
    gateway: str
    gateway_model_id: str
    id: str
    name: str | None
    description: str | None
    provider_slug: str | None
    context_length: int | None
    max_output_tokens: int | None
    pricing: PricingOut = Field(
        description="Prices with their units: token prices in USD per 1M tokens (pricing.unit), "
        "request and web_search per request, image per image, unit_price per per_unit "
        "(pricing.units says each)"
    )
    input_modalities: list[str]
    output_modalities: list[str]
    supported_parameters: list[str]
    status: Literal["active", "deprecated", "missing", "removed"]
    deprecation_date: str | None
    variants: list[str] = Field(
        description="How this gateway serves the model (free, turbo, fp8, fast...): the offer's "
        "attributes, not the model's identity"
    )
    extra: dict[str, Any]
    first_seen_at: str
    last_seen_at: str
    updated_at: str
    content_hash: str


class ModelsOut(Out):
    catalog_version: int
    count: int
    models: list[ModelOut]


class OffersOut(Out):
    id: str
    catalog_version: int
    offers: list[ModelOut]


class CandidateOut(Out):
    id: str
    gateways: list[str] = Field(description="The other gateways offering it")
    score: float = Field(description="0..1: the weighted share of words the two ids have in common")


class UnmatchedModelOut(Out):
    id: str
    gateway: str = Field(description="The one gateway offering it")
    gateway_model_ids: list[str]
    name: str | None
    candidates: list[CandidateOut] = Field(description="The nearest ids on other gateways")


class UnmatchedOut(Out):
    catalog_version: int
    total: int = Field(description="Canonical ids offered by exactly one gateway")
    count: int
    models: list[UnmatchedModelOut]


class ChangeOut(Out):
    seq: int
    gateway: str
    gateway_model_id: str
    id: str
    kind: Literal["added", "updated", "removed", "restored", "quarantined"] = Field(
        description="quarantined: the entry failed validation and was set aside, the model "
        "kept as it was; fields.quarantine holds the reason"
    )
    fields: dict[str, list[Any]] = Field(description="{field: [old, new]}")
    anomalies: list[str]
    source: Literal["poll", "webhook", "manual", "identity", "reference"]
    catalog_version: int
    at: str


class ChangesOut(Out):
    changes: list[ChangeOut]
    next: int = Field(description="The cursor: pass it as ?since= for the changes after these.")
    truncated: bool = Field(
        description="True when retention pruned changes after ?since=: the page starts at "
        "oldest_seq, not right after the cursor."
    )
    oldest_seq: int | None = Field(description="The oldest change retention kept (null: none).")


class InvalidationOut(Out):
    tags: list[str]
    paths: list[str]


class InvalidateOut(Out):
    invalidated: InvalidationOut
    at: str
    reason: str
    purgers: list[str] = Field(description="The outbound purgers that queued the invalidation.")


class HealthOut(Out):
    status: Literal["ok"]


class ReadyOut(Out):
    status: Literal["ready", "not_ready"]
    database: bool
    scheduler: bool
    detail: str | None = None
