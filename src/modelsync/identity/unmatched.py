"""PURE: the models offered by exactly one gateway, with their nearest candidates elsewhere.

What identity missed shows up here: a model that two gateways really share but that got two ids
is offered by one gateway under each, and each names the other among its candidates. Candidates
are canonical ids offered by at least one *other* gateway, ranked by a weighted overlap of their
words (``meta-llama/llama-3.3-70b-instruct`` -> ``meta-llama``, ``llama``, ``3.3``, ``70b``,
``instruct``): each word weighs by how rare it is in the catalog (its inverse document
frequency), so ``70b`` and ``pixtral`` count more than ``instruct``. Only ids sharing a word that
has a letter and is not among the commonest are scored (so a report over 50,000 offers stays
fast), and a candidate shares at least :data:`MIN_SCORE` of the weight.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_WORDS = re.compile(r"[/_.-]+")
COMMON_SHARE = 0.05
"""A word in more than this share of the ids does not, alone, make two ids candidates."""
MIN_SCORE = 0.2
"""Candidates share at least this much of the two ids' weighted words."""


@dataclass(frozen=True, slots=True)
class OfferRow:
    """One offer as the report needs it."""

    gateway: str
    gateway_model_id: str
    id: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A canonical id on other gateways that may be the same model."""

    id: str
    gateways: tuple[str, ...]
    score: float
    """0..1: the weighted share of the two ids' words they have in common."""


@dataclass(frozen=True, slots=True)
class Unmatched:
    """A canonical id offered by one gateway only."""

    id: str
    gateway: str
    gateway_model_ids: tuple[str, ...]
    name: str | None
    candidates: tuple[Candidate, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "gateway": self.gateway,
            "gateway_model_ids": list(self.gateway_model_ids),
            "name": self.name,
            "candidates": [
                {"id": c.id, "gateways": list(c.gateways), "score": round(c.score, 3)}
                for c in self.candidates
            ],
        }


def words(model_id: str) -> frozenset[str]:
    """The words of a canonical id: its author and the parts of its name."""
    return frozenset(word for word in _WORDS.split(model_id) if word)


@dataclass(frozen=True, slots=True)
class UnmatchedReport:
    """Every id offered by one gateway (``total``) and a page of them with candidates."""

    total: int
    models: tuple[Unmatched, ...]


def unmatched(
    offers: Iterable[OfferRow],
    *,
    gateway: str | None = None,
    limit: int = 100,
    offset: int = 0,
    candidates: int = 3,
) -> UnmatchedReport:
    """The ids offered by exactly one gateway (that one, when ``gateway`` is given), by id."""
    by_id: dict[str, list[OfferRow]] = defaultdict(list)
    for offer in offers:
        by_id[offer.id].append(offer)
    gateways = {model_id: {o.gateway for o in rows} for model_id, rows in by_id.items()}
    lonely = sorted(
        model_id
        for model_id, names in gateways.items()
        if len(names) == 1 and (gateway is None or gateway in names)
    )
    page = lonely[offset : offset + limit]
    index = _Index(gateways)
    found = []
    for model_id in page:
        rows = by_id[model_id]
        (own,) = gateways[model_id]
        found.append(
            Unmatched(
                id=model_id,
                gateway=own,
                gateway_model_ids=tuple(sorted(o.gateway_model_id for o in rows)),
                name=next((o.name for o in rows if o.name), None),
                candidates=index.nearest(model_id, own, candidates),
            )
        )
    return UnmatchedReport(len(lonely), tuple(found))


class _Index:
    """Words -> ids, with each word's weight (inverse document frequency)."""

    def __init__(self, gateways: Mapping[str, set[str]]) -> None:
        self.gateways = gateways
        self.words = {model_id: words(model_id) for model_id in gateways}
        postings: dict[str, set[str]] = defaultdict(set)
        for model_id, found in self.words.items():
            for word in found:
                postings[word].add(model_id)
        count = max(len(gateways), 1)
        self.weight = {word: math.log(1 + count / len(ids)) for word, ids in postings.items()}
        cutoff = max(COMMON_SHARE * count, 2)
        self.postings = {
            word: ids for word, ids in postings.items() if len(ids) <= cutoff and not word.isdigit()
        }

    def nearest(self, model_id: str, own: str, limit: int) -> tuple[Candidate, ...]:
        mine = self.words[model_id]
        pool: set[str] = set()
        for word in mine:
            pool |= self.postings.get(word, set())
        scored = []
        for other in pool:
            where = self.gateways[other]
            if other == model_id or where == {own}:
                continue
            theirs = self.words[other]
            shared = sum(self.weight[w] for w in mine & theirs)
            score = shared / sum(self.weight[w] for w in mine | theirs)
            if score >= MIN_SCORE:
                scored.append((-score, other))
        scored.sort()
        return tuple(
            Candidate(other, tuple(sorted(self.gateways[other] - {own})), -negative)
            for negative, other in scored[:limit]
        )
