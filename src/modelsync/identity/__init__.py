"""Canonical identity: one released model, one id on every gateway (DESIGN section 5).

:func:`resolve` maps what a gateway says about a model to its :class:`Identity`; the operator's
:class:`IdentityOverrides` correct it. Pure, no I/O.
"""

from modelsync.identity.overrides import (
    NO_OVERRIDES,
    RULES_VERSION,
    IdentityOverrides,
    with_identity,
)
from modelsync.identity.resolve import CANONICAL_ID, Identity, IdentityInput, resolve

__all__ = [
    "CANONICAL_ID",
    "NO_OVERRIDES",
    "RULES_VERSION",
    "Identity",
    "IdentityInput",
    "IdentityOverrides",
    "resolve",
    "with_identity",
]
