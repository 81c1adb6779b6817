"""The unmatched report: models offered by one gateway, and their nearest ids elsewhere."""

from __future__ import annotations

import pytest

from conftest import SHARED_FIXTURES, shared_fixture
from identity_captures import capture_models, load_truth
from modelsync.identity.unmatched import OfferRow, unmatched, words

OFFERS = [
    OfferRow(
        "openrouter", "meta-llama/llama-3.3-70b-instruct", "meta-llama/llama-3.3-70b-instruct"
    ),
    OfferRow("groq", "llama-3.3-70b-versatile", "meta-llama/llama-3.3-70b-instruct"),
    OfferRow(
        "openrouter", "meta-llama/llama-3.1-70b-instruct", "meta-llama/llama-3.1-70b-instruct"
    ),
    OfferRow("vercel-ai-gateway", "mistral/pixtral-12b", "mistralai/pixtral-12b", "Pixtral 12B"),
    OfferRow("openrouter", "mistralai/pixtral-12b", "mistralai/pixtral-12b-2409"),
    OfferRow("openrouter", "mistralai/pixtral-12b:free", "mistralai/pixtral-12b-2409"),
    OfferRow("together", "acme/solo-1", "acme/solo-1"),
    OfferRow("together", "acme/solo-2", "acme/solo-2"),
]


def test_words_of_an_id() -> None:
    """An id's words: author and name parts, versions whole."""
    assert words("meta-llama/llama-3.3-70b-instruct") == {"meta", "llama", "3", "70b", "instruct"}


def test_lonely_ids_and_their_candidates_on_other_gateways() -> None:
    """Ids offered by one gateway, by id; candidates only from other gateways, best first."""
    report = unmatched(OFFERS)
    assert report.total == 5
    by_id = {m.id: m for m in report.models}
    assert set(by_id) == {
        "acme/solo-1", "acme/solo-2", "meta-llama/llama-3.1-70b-instruct",
        "mistralai/pixtral-12b", "mistralai/pixtral-12b-2409",
    }  # fmt: skip
    pixtral = by_id["mistralai/pixtral-12b"]
    assert (pixtral.gateway, pixtral.gateway_model_ids, pixtral.name) == (
        "vercel-ai-gateway", ("mistral/pixtral-12b",), "Pixtral 12B",
    )  # fmt: skip
    assert pixtral.candidates[0].id == "mistralai/pixtral-12b-2409"
    assert pixtral.candidates[0].gateways == ("openrouter",)
    assert 0 < pixtral.candidates[0].score < 1
    dated = by_id["mistralai/pixtral-12b-2409"]
    assert dated.gateway_model_ids == ("mistralai/pixtral-12b", "mistralai/pixtral-12b:free")
    llama = by_id["meta-llama/llama-3.1-70b-instruct"]
    assert [c.id for c in llama.candidates] == ["meta-llama/llama-3.3-70b-instruct"]
    assert llama.candidates[0].gateways == ("groq",)
    assert by_id["acme/solo-1"].candidates == ()


def test_gateway_filter_and_paging() -> None:
    """``gateway`` keeps that gateway's lonely ids; ``limit``/``offset`` page them by id."""
    assert [m.id for m in unmatched(OFFERS, gateway="together").models] == [
        "acme/solo-1", "acme/solo-2",
    ]  # fmt: skip
    page = unmatched(OFFERS, limit=2, offset=1)
    assert page.total == 5
    assert [m.id for m in page.models] == ["acme/solo-2", "meta-llama/llama-3.1-70b-instruct"]
    assert unmatched([]).total == 0


@pytest.mark.shared_fixtures
def test_every_unconfirmed_pair_names_the_other_as_a_candidate() -> None:
    """On the recorded captures, each pair identity keeps apart shows up as candidates."""
    shared_fixture("providers")
    models = capture_models(SHARED_FIXTURES)
    ids = {(m.gateway, m.gateway_model_id): m.id for m in models}
    rows = [OfferRow(m.gateway, m.gateway_model_id, m.id, m.name) for m in models]
    report = unmatched(rows, limit=10_000, candidates=5)
    by_id = {m.id: m for m in report.models}
    for why, offers in load_truth().unsure:
        first, second = sorted(ids[offer] for offer in offers)
        if first in by_id:
            assert second in {c.id for c in by_id[first].candidates}, why
