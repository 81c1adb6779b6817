"""Cache tags and invalidation (DESIGN section 7).

:mod:`~modelsync.cache.tags` holds the pure rules (what happened -> tags and paths),
:mod:`~modelsync.cache.base` the :class:`Invalidator` interface, and one module per backend
(:mod:`~modelsync.cache.memory`, ...) the manifests that implement it.
"""

from __future__ import annotations

from modelsync.cache.base import InvalidationRecord, Invalidator
from modelsync.cache.tags import Invalidation

__all__ = ["Invalidation", "InvalidationRecord", "Invalidator"]
