"""The seed catalogs: each gateway's real recorded response when the shared fixtures folder is
there, else the simulator's own small built-in catalog (``data/<gateway>.json``).

Real captures used: OpenRouter (2026-05-15), Groq, Together, Fireworks, Gemini (for ``google``),
Cerebras, Vercel, fal (page 1 as the whole catalog), Nebius (real ids, enriched into the
``verbose=true`` shape) and xAI (real ids, enriched with prices into the language-models shape).
AIMO, NEAR and Hugging Face have no real full capture and always use the built-in data.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from modelsync.errors import ConfigError
from modelsync.gateways.registry import BUILTIN
from modelsync.simulator.enrich import nebius_verbose, xai_language_model
from modelsync.simulator.shapes import SHAPES
from modelsync.simulator.state import Seed

FIXTURES_ENV = "MODELSYNC_SIMULATOR_FIXTURES"
"""Names the fixtures folder; ``none`` (or ``builtin``) forces the built-in catalogs."""

FIXTURE_FILES: Mapping[str, str] = {
    "openrouter": "openrouter/openrouter_api_v1_models_2026-05-15_models.dev_root_models.json",
    "groq": "groq/groq_openai_v1_models_2025-07-25_rajashekar-lc.json",
    "together": "together/together_v1_models_2025-07-25_rajashekar-lc.json",
    "fireworks": "fireworks/fireworks_inference_v1_models_2025-07-25_rajashekar-lc.json",
    "google": "gemini/gemini_v1beta_models_2025-04-01_yayxs-openai_prettier.json",
    "cerebras": "cerebras/cerebras_v1_models_2025-07-25_rajashekar-lc.json",
    "nebius": "nebius/nebius_v1_models_2025-07-25_rajashekar-lc.json",
    "xai": "xai/xai_v1_models_2025-07-25_rajashekar-lc.json",
    "fal": "fal/fal_platform_api_v1_models_page1_2026-04-18_ianscrivener-PromptProxy.json",
    "vercel-ai-gateway": "vercel/vercel_ai_gateway_v1_models_2025-07-25_rajashekar-lc.json",
}
"""Gateway -> recorded response, relative to ``<fixtures>/providers/``."""

_RECORDED_LIST_KEY: Mapping[str, str | None] = {"xai": "data", "nebius": "data"}
"""Where the recorded file keeps its list, where that differs from the served shape."""


def find_fixtures_dir(explicit: Path | None, environ: Mapping[str, str], cwd: Path) -> Path | None:
    """The fixtures folder to seed from, or ``None`` for the built-in catalogs.

    An explicit folder wins, then ``MODELSYNC_SIMULATOR_FIXTURES``, then the first
    ``shared/fixtures`` found walking up from ``cwd``. A named but missing folder is a
    ConfigError.
    """
    if explicit is not None:
        if not explicit.is_dir():
            raise ConfigError(f"simulator fixtures folder {str(explicit)!r} does not exist")
        return explicit
    named = environ.get(FIXTURES_ENV, "").strip()
    if named.lower() in ("none", "builtin"):
        return None
    if named:
        path = Path(named)
        if not path.is_dir():
            raise ConfigError(f"{FIXTURES_ENV}={named!r} is not a folder")
        return path
    for folder in (cwd, *cwd.parents):
        candidate = folder / "shared" / "fixtures"
        if candidate.is_dir():
            return candidate
    return None


def discover_fixtures_dir() -> Path | None:
    """:func:`find_fixtures_dir` for this process (environment and working directory)."""
    return find_fixtures_dir(None, os.environ, Path.cwd())


def load_seeds(fixtures_dir: Path | None) -> dict[str, Seed]:
    """Every built-in gateway's seed, in registry order."""
    return {spec.name: load_seed(spec.name, fixtures_dir) for spec in BUILTIN}


def load_seed(gateway: str, fixtures_dir: Path | None) -> Seed:
    """One gateway's seed: the recorded response when available, else the built-in catalog."""
    relative = FIXTURE_FILES.get(gateway)
    if fixtures_dir is not None and relative is not None:
        path = fixtures_dir / "providers" / relative
        if path.is_file():
            entries = recorded_entries(gateway, orjson.loads(path.read_bytes()))
            return Seed(orjson.dumps(entries), f"fixtures:providers/{relative}")
    return Seed(orjson.dumps(builtin_entries(gateway)), f"builtin:data/{gateway}.json")


def builtin_entries(gateway: str) -> list[Any]:
    """The simulator's own catalog for ``gateway``, in the gateway's entry shape."""
    data = resources.files("modelsync.simulator").joinpath("data", f"{gateway}.json")
    return _entries(orjson.loads(data.read_bytes()), SHAPES[gateway].list_key, gateway)


def recorded_entries(gateway: str, document: Any) -> list[Any]:
    """The entries of a recorded response, brought into the shape the simulator serves."""
    list_key = _RECORDED_LIST_KEY.get(gateway, SHAPES[gateway].list_key)
    entries = _entries(document, list_key, gateway)
    if gateway == "nebius":
        return [nebius_verbose(entry) for entry in entries]
    if gateway == "xai":
        return [xai_language_model(entry) for entry in entries if "-image-" not in entry["id"]]
    return entries


def _entries(document: Any, list_key: str | None, gateway: str) -> list[Any]:
    if list_key is None:
        entries = document
    else:
        entries = document.get(list_key) if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"the seed catalog of {gateway} has no list under {list_key!r}")
    return entries
