"""Request-scoped access to the services the lifespan opened."""

from __future__ import annotations

from typing import cast

from fastapi import Request

from modelsync.web.services import Services


def services_of(request: Request) -> Services:
    return cast(Services, request.app.state.services)
