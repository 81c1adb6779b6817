"""The app under test, as the web tests open it (:mod:`web.harness`)."""

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
