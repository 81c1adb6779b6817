"""Plausible names for models the simulator invents (pure, given the random source)."""

from __future__ import annotations

import random
import re

FAMILIES = (
    "nova",
    "aurora",
    "zephyr",
    "orion",
    "helix",
    "atlas",
    "lyra",
    "vega",
    "sirius",
    "quasar",
    "nimbus",
    "cobalt",
)
TAILS = ("", "-mini", "-pro", "-flash", "-8b-instruct", "-70b-instruct", "-32b", "-preview")
RENAME_SUFFIX = " (Preview)"

_SIZE = re.compile(r"^\d+(\.\d+)?[bm]$", re.IGNORECASE)
_LEADING_WORD = re.compile(r"^[a-z]{3,}", re.IGNORECASE)


def invent_id(source_id: str, taken: set[str], rng: random.Random) -> str:
    """A new id in the style of ``source_id`` (same prefix and letter case), not in ``taken``."""
    prefix, slash, last = source_id.rpartition("/")
    leading = _LEADING_WORD.match(last)
    family = leading.group(0).lower() if not slash and leading else rng.choice(FAMILIES)
    slug = f"{family}-{rng.randint(2, 6)}.{rng.randint(0, 9)}{rng.choice(TAILS)}"
    if any(char.isupper() for char in last):
        slug = "-".join(_title(part) for part in slug.split("-"))
    base = f"{prefix}{slash}{slug}"
    candidate, number = base, 2
    while candidate in taken:
        candidate = f"{base}-{number}"
        number += 1
    return candidate


def _title(part: str) -> str:
    return part.upper() if _SIZE.match(part) else part[:1].upper() + part[1:]


def display_name(model_id: str) -> str:
    """``"acme/helix-3.2-70b-instruct"`` -> ``"Helix 3.2 70B Instruct"``."""
    last = model_id.rpartition("/")[2]
    words = [word for word in re.split(r"[-_\s]+", last) if word]
    return " ".join(_title(word) for word in words) or model_id


def renamed(name: str) -> str:
    """A new display name: the preview suffix added, or taken off when it is there."""
    if not name:
        return "Renamed model"
    if name.endswith(RENAME_SUFFIX):
        return name.removesuffix(RENAME_SUFFIX)
    return name + RENAME_SUFFIX
