"""The recorded captures through their adapters, and the join rate against the hand-checked list of
models they share (``tests/fixtures/identity/shared_models.toml``).

Shared by ``tests/unit/test_identity_captures.py`` and ``benchmarks/bench_identity.py``. Uses only
``adapter.parse`` and each model's ``gateway``, ``gateway_model_id`` and ``id``, so the benchmark
also measures an older checkout's rules (``PYTHONPATH=<old>/src``).
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from modelsync.domain import Model
from modelsync.gateways.base import Page
from modelsync.gateways.registry import build_adapter

_JULY = "2025-07-25_rajashekar-lc.json"
CAPTURES: tuple[tuple[str, str, str], ...] = (
    ("openrouter", "openrouter", f"openrouter/openrouter_api_v1_models_{_JULY}"),
    ("groq", "openai_compat", f"groq/groq_openai_v1_models_{_JULY}"),
    ("together", "together", f"together/together_v1_models_{_JULY}"),
    ("fireworks", "fireworks", f"fireworks/fireworks_inference_v1_models_{_JULY}"),
    ("cerebras", "openai_compat", f"cerebras/cerebras_v1_models_{_JULY}"),
    ("nebius", "openai_compat", f"nebius/nebius_v1_models_{_JULY}"),
    ("vercel-ai-gateway", "vercel", f"vercel/vercel_ai_gateway_v1_models_{_JULY}"),
    ("xai", "xai", f"xai/xai_v1_models_{_JULY}"),
    ("google", "google", "gemini/gemini_v1beta_models_2025-04-01_yayxs-openai_prettier.json"),
)
"""(gateway, adapter kind, capture under ``providers/``): the captures issue 9 measures."""

TRUTH = Path(__file__).resolve().parent / "fixtures" / "identity" / "shared_models.toml"

Offer = tuple[str, str]
"""``(gateway, gateway model id)``."""


def capture_models(fixtures: Path) -> list[Model]:
    """Every model of every capture, as its adapter normalizes it."""
    models: list[Model] = []
    for gateway, kind, relative in CAPTURES:
        document = orjson.loads((fixtures / "providers" / relative).read_bytes())
        models += build_adapter(kind, gateway).parse([Page(document)])
    return models


@dataclass(frozen=True, slots=True)
class Truth:
    shared: tuple[frozenset[Offer], ...]
    unsure: tuple[tuple[str, frozenset[Offer]], ...]


def load_truth(path: Path = TRUTH) -> Truth:
    """The hand-checked groups of shared offers, and the pairs nothing confirms."""
    document = tomllib.loads(path.read_text())

    def offers(items: Iterable[str]) -> frozenset[Offer]:
        return frozenset((item.partition(":")[0], item.partition(":")[2]) for item in items)

    return Truth(
        tuple(offers(group["offers"]) for group in document["shared"]),
        tuple((group["why"], offers(group["offers"])) for group in document["unsure"]),
    )


@dataclass(slots=True)
class JoinReport:
    groups: int = 0
    joined: int = 0
    missed: list[dict[Offer, str]] = field(default_factory=list)
    """Each shared group that got more than one id: offer -> its id."""
    wrong: list[tuple[str, list[Offer]]] = field(default_factory=list)
    """Ids holding offers of two different shared groups (different models merged)."""
    unconfirmed: list[tuple[str, list[Offer]]] = field(default_factory=list)
    """Ids spanning two gateways whose offers are not all one shared group."""
    unknown: list[Offer] = field(default_factory=list)
    """Offers of the truth file that no capture has (the file went stale)."""

    @property
    def rate(self) -> float:
        return self.joined / self.groups if self.groups else 1.0


def score(models: Iterable[Model], truth: Truth) -> JoinReport:
    """How the canonical ids of ``models`` line up with the hand-checked groups."""
    ids: dict[Offer, str] = {(m.gateway, m.gateway_model_id): m.id for m in models}
    group_of = {offer: index for index, group in enumerate(truth.shared) for offer in group}
    report = JoinReport(groups=len(truth.shared))
    for group in truth.shared:
        report.unknown += sorted(offer for offer in group if offer not in ids)
        got = {offer: ids[offer] for offer in group if offer in ids}
        if len(set(got.values())) == 1:
            report.joined += 1
        else:
            report.missed.append(got)
    by_id: Mapping[str, list[Offer]] = _by_id(ids)
    for model_id, offers in sorted(by_id.items()):
        if len({gateway for gateway, _ in offers}) < 2:
            continue
        groups = {group_of.get(offer) for offer in offers}
        if len(groups - {None}) > 1:
            report.wrong.append((model_id, sorted(offers)))
        elif None in groups:
            report.unconfirmed.append((model_id, sorted(offers)))
    return report


def _by_id(ids: Mapping[Offer, str]) -> dict[str, list[Offer]]:
    grouped: dict[str, list[Offer]] = defaultdict(list)
    for offer, model_id in ids.items():
        grouped[model_id].append(offer)
    return grouped
