"""Page sizes: the most one answer holds, the same in the API and the CLI (which checks them
before it opens anything). Imported by the CLI at start: nothing heavy here."""

from __future__ import annotations

MODELS_PAGE = 5000
"""``GET /api/models`` and ``modelsync models``."""

UNMATCHED_PAGE = 1000
"""``GET /api/models/unmatched`` and ``modelsync models --unmatched``."""

CHANGES_PAGE = 1000
"""``GET /api/changes`` and ``modelsync changes``."""
