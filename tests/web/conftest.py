"""Fixtures of the web tests: a running service on a database of the test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from web.harness import Service, open_service


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    """The app with its lifespan running, the simulator upstream and a frozen clock."""
    async with open_service(tmp_path) as opened:
        yield opened


@pytest.fixture
async def synced(service: Service) -> Service:
    """The service after one manual sync of every gateway."""
    await service.sync()
    return service
