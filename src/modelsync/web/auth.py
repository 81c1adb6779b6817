"""Admin authentication: ``Authorization: Bearer $MODELSYNC_ADMIN_TOKEN``, in constant time.

Without a configured token every admin route refuses (403, saying how to enable it): nothing is
open by default.
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, status

from modelsync.web.deps import services_of


def require_admin(request: Request) -> None:
    """A FastAPI dependency for admin routes."""
    token = services_of(request).settings.admin_token
    if token is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "admin routes are disabled: set MODELSYNC_ADMIN_TOKEN to enable them",
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "admin token missing or wrong: send Authorization: Bearer <MODELSYNC_ADMIN_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )
