"""Admin authentication: ``Authorization: Bearer $MODELSYNC_ADMIN_TOKEN``, in constant time.

Without a configured token every admin route refuses (403, saying how to enable it): nothing is
open by default. Admin routes use :class:`AdminRoute`, which checks the token before the body is
read or validated, so a caller without the token learns nothing from a 422.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response, status
from fastapi.routing import APIRoute

from modelsync.web.deps import services_of


def require_admin(request: Request) -> None:
    """403 when no token is configured, 401 when it is missing or wrong; else nothing."""
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


class AdminRoute(APIRoute):
    """A route that runs :func:`require_admin` first, before its body is parsed."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            require_admin(request)
            return await handler(request)

        return guarded
