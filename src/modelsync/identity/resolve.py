"""PURE: (gateway, raw id, metadata) -> the canonical id of the released model, its author and the
offer's serving variants.

The pipeline (each step table-tested on real ids in ``tests/unit/test_identity.py``):

1. OpenRouter's ``~`` (moving ``-latest`` aliases) is dropped and its ``:tag`` (``:free``,
   ``:thinking``, ``:extended``) becomes a variant (elsewhere a ``:`` is a hyphen).
2. The author and the name: Fireworks' ``accounts/<account>/models/<name>`` (its own ``fireworks``
   account hosts other authors' models, so it names no author), else the first ``/`` segment.
3. Evidence: a Hugging Face repo id the gateway gives (OpenRouter's ``hugging_face_id``, NEAR's
   ``huggingFaceId``) names the released model, when its author is the id's author (so
   ``deepseek/deepseek-chat`` is ``deepseek/deepseek-v3`` and ``meta-llama/llama-4-scout`` is
   ``meta-llama/llama-4-scout-17b-16e-instruct``).
4. The author, canonically spelled (:mod:`~modelsync.identity.authors`): the dialect's fixed author,
   else the id's, else the metadata's (``owned_by``), else the family's, else the gateway.
5. The name (:mod:`~modelsync.identity.slugs`), then the known single-release aliases
   (:mod:`~modelsync.identity.known`).

Canonical ids are ``author/name`` (the name may hold more ``/`` segments, as fal's do), made of
``[a-z0-9.-]`` and ``/`` only: lower case, safe in a URL path and in a cache tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from modelsync.errors import PayloadError
from modelsync.identity.authors import canonical_author, family_author
from modelsync.identity.dialects import Dialect, dialect_for
from modelsync.identity.known import KNOWN_ALIASES
from modelsync.identity.slugs import canonical_slug, join_versions, spelled

CANONICAL_ID = re.compile(r"[a-z0-9][a-z0-9.-]*(/[a-z0-9][a-z0-9.-]*)+")
"""What every canonical id looks like."""


@dataclass(frozen=True, slots=True)
class IdentityInput:
    """What a gateway says about one model that bears on its identity."""

    gateway: str
    raw_id: str
    dialect: str = ""
    """The gateway's id dialect (:mod:`~modelsync.identity.dialects`); empty: its name."""
    author: str | None = None
    """The author the metadata names (``owned_by``, ``organization``), if any."""
    hf_id: str | None = None
    """The Hugging Face repo id the gateway says the model is, if any."""


@dataclass(frozen=True, slots=True)
class Identity:
    """The released model an offer is: canonical id, author, and the offer's serving variants."""

    id: str
    author: str
    variants: tuple[str, ...] = ()


def resolve(item: IdentityInput) -> Identity:
    """The identity of one offer (rules in the module docstring); PayloadError for an empty id."""
    return _resolve(
        item.gateway, item.dialect or item.gateway, item.raw_id, item.author, item.hf_id
    )


@lru_cache(maxsize=65536)
def _resolve(
    gateway: str, dialect_name: str, raw_id: str, author_hint: str | None, hf_id: str | None
) -> Identity:
    dialect = dialect_for(dialect_name)
    text, tag = raw_id.strip().lstrip("~"), ""
    if dialect.colon_variants:
        text, _, tag = text.partition(":")
    variants = [spelled(tag)] if spelled(tag) else []
    id_author, name = _author_and_name(text, dialect)
    owner = canonical_author(id_author)
    if hf_id:
        hf_author, sep, hf_name = hf_id.strip().partition("/")
        hf_owner = canonical_author(hf_author)
        if sep and hf_owner and hf_name and owner in (None, hf_owner):
            owner, name = hf_owner, hf_name
    slug = spelled(name, p_versions=dialect.p_versions)
    if not slug:
        raise PayloadError(f"model id {raw_id!r} has no letters or digits")
    owner = (
        dialect.fixed_author
        or owner
        or canonical_author(author_hint)
        or family_author(join_versions(slug))
        or canonical_author(gateway)
        or "unknown"
    )
    slug, found = canonical_slug(slug, owner, dialect)
    canonical = f"{owner}/{slug}"
    canonical = KNOWN_ALIASES.get(canonical, canonical)
    return Identity(canonical, canonical.partition("/")[0], tuple(sorted({*variants, *found})))


def _author_and_name(text: str, dialect: Dialect) -> tuple[str | None, str]:
    """Step 2: the author the id names (``None`` when none) and the rest of the id."""
    if dialect.account_paths and text.startswith("accounts/"):
        parts = text.split("/", 3)
        if len(parts) == 4 and parts[2] == "models" and parts[1] and parts[3]:
            account = parts[1]
            return (None if account in dialect.host_accounts else account), parts[3]
    author, sep, rest = text.partition("/")
    if sep and author and rest:
        return author, rest
    return None, text
