"""The reference catalogs on recorded data (issue 9 item 3): the real models.dev ``api.json`` and
LiteLLM price file price the recorded captures of gateways whose APIs give no prices, at the
prices the providers publish, and never an offer of a gateway that prices its own."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest

from conftest import SHARED_FIXTURES, shared_fixture
from identity_captures import capture_models
from modelsync.config import Settings, resolve_gateways
from modelsync.domain import Model
from modelsync.gateways.base import Page
from modelsync.gateways.registry import build_adapter
from modelsync.reference.service import gateway_identify, parse_catalog
from modelsync.reference.table import ReferenceTable, build_table, enrich

MODELSDEV = "catalogs/models.dev_api.json_2026-06-13_via_symfony-models-dev.json"
LITELLM = "catalogs/litellm_model_prices_and_context_window_2026-07-24_via_RoCry-llm-api-price.json"
AT = datetime(2026, 7, 24, tzinfo=UTC)


def table(name: str, kind: str, relative: str) -> ReferenceTable:
    document = orjson.loads(shared_fixture(relative).read_bytes())
    identify = gateway_identify(resolve_gateways(Settings(database_url="sqlite+aiosqlite://")))
    models = parse_catalog(build_adapter(kind, name), [Page(document)])
    return build_table(name, kind, AT, models, identify)


@pytest.fixture(scope="module")
def tables() -> tuple[ReferenceTable, ReferenceTable]:
    return table("litellm", "litellm", LITELLM), table("models.dev", "modelsdev", MODELSDEV)


@pytest.fixture(scope="module")
def offers() -> dict[tuple[str, str], Model]:
    shared_fixture("providers/groq/groq_openai_v1_models_2025-07-25_rajashekar-lc.json")
    return {(m.gateway, m.gateway_model_id): m for m in capture_models(SHARED_FIXTURES)}


@pytest.mark.parametrize(
    ("gateway", "raw", "prompt", "completion"),
    [
        ("groq", "llama-3.3-70b-versatile", "0.59", "0.79"),
        ("nebius", "meta-llama/Llama-3.3-70B-Instruct", "0.13", "0.4"),
        ("cerebras", "llama3.1-8b", "0.1", "0.1"),
        ("google", "gemini-2.0-flash", "0.1", "0.4"),
        ("xai", "grok-3", "3", "15"),
        ("fireworks", "accounts/fireworks/models/deepseek-r1", "3", "8"),
    ],
)
def test_recorded_offers_get_published_prices(
    tables: tuple[ReferenceTable, ReferenceTable],
    offers: dict[tuple[str, str], Model],
    gateway: str,
    raw: str,
    prompt: str,
    completion: str,
) -> None:
    """An unpriced recorded offer gets the price its provider publishes, with the source."""
    model = offers[(gateway, raw)]
    assert model.pricing.prompt is None
    priced = enrich(model, tables)
    assert priced.pricing.prompt == Decimal(prompt)
    assert priced.pricing.completion == Decimal(completion)
    assert priced.pricing.to_json()["source"] == "litellm@2026-07-24T00:00:00Z"


def test_priced_gateways_are_left_alone(
    tables: tuple[ReferenceTable, ReferenceTable], offers: dict[tuple[str, str], Model]
) -> None:
    """OpenRouter's and Vercel's offers keep exactly their own prices (a router's variable
    price stays unknown); every other gateway's own prices win too."""
    for model in offers.values():
        if model.pricing.any_price or model.gateway in ("openrouter", "vercel-ai-gateway"):
            assert enrich(model, tables) == model
            assert enrich(model, tables).pricing.source == model.pricing.source
    assert offers[("openrouter", "openrouter/auto")].pricing.prompt is None
    assert enrich(offers[("openrouter", "openrouter/auto")], tables).pricing.prompt is None
