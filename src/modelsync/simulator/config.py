"""The simulator's settings, one frozen value built by the CLI (or a test) and passed down."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from modelsync.clock import Clock, SystemClock
from modelsync.simulator.pages import DEFAULT_PAGE_CAPS, DEFAULT_PAGE_SIZES
from modelsync.simulator.script import Step
from modelsync.simulator.sender import WebhookTarget


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatorConfig:
    """How to build a simulator.

    ``fixtures_dir``: the recorded ``shared/fixtures`` folder to seed from; ``None`` finds it
    (``MODELSYNC_SIMULATOR_FIXTURES``, then a ``shared/fixtures`` above the working directory) and
    falls back to the built-in catalogs. ``use_fixtures=False`` always uses the built-in catalogs.
    ``script`` runs once in the background; ``demo`` runs the endless demo script alongside.
    ``seed`` makes random picks and the demo reproducible. ``etag`` is every gateway's starting
    ETag switch; ``page_sizes`` the page sizes used when a client asks for none, ``page_caps``
    the largest pages served whatever the client asks (Google: 20, so its adapter pages too).
    """

    fixtures_dir: Path | None = None
    use_fixtures: bool = True
    script: tuple[Step, ...] = ()
    demo: bool = False
    seed: int = 0
    etag: bool = True
    page_sizes: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PAGE_SIZES))
    page_caps: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PAGE_CAPS))
    clock: Clock = field(default_factory=SystemClock)
    webhook: WebhookTarget | None = None
    """Send a signed webhook to this target after every scripted change (the demo does)."""
