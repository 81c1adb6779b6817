"""What every adapter's output must satisfy, whatever the gateway (shared by the adapter tests)."""

from __future__ import annotations

from decimal import Decimal

from modelsync.bounds import model_problem, raw_id_problem
from modelsync.domain import PRICE_FIELDS, Model


def by_gateway_id(models: list[Model]) -> dict[str, Model]:
    """Models keyed by their gateway id."""
    return {model.gateway_model_id: model for model in models}


def check_catalog(models: list[Model]) -> None:
    """Every price a Decimal >= 0 or None, unique gateway ids, lower-case ids, sorted lists, and
    everything within the bounds (a real catalog is never rejected by them)."""
    assert len({model.gateway_model_id for model in models}) == len(models)
    for model in models:
        assert model.id == model.id.lower()
        assert "/" in model.id
        for name in PRICE_FIELDS:
            value = getattr(model.pricing, name)
            assert value is None or (isinstance(value, Decimal) and value >= 0)
        for values in (model.input_modalities, model.output_modalities, model.supported_parameters):
            assert list(values) == sorted(set(values))
        assert model.context_length is None or model.context_length > 0
        assert model.max_output_tokens is None or model.max_output_tokens > 0
        assert "created" not in model.fields()
        assert model_problem(model) is None, (model.gateway_model_id, model_problem(model))
        assert raw_id_problem(model.gateway_model_id) is None
