"""The simulator's mutable state: each gateway's current entries, removed entries, faults,
request count, ETag switch and mutation log, plus the seed to reset to.

The seed is kept as compact JSON bytes, not as objects, so only one parsed copy of each catalog
lives in memory. All of it runs on the event loop; no method awaits, so no lock is needed.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from modelsync.clock import Clock, SystemClock
from modelsync.errors import ModelsyncError
from modelsync.simulator.faults import Fault
from modelsync.simulator.shapes import SHAPES, Shape, entry_id

LOG_LENGTH = 200
"""Mutations remembered per gateway for ``GET /_admin/state``."""

RENDER_CACHE_SIZE = 16

Rendered = tuple[bytes, dict[str, str]]
"""A cached answer: body bytes and headers (without the ETag)."""


class AdminInputError(ModelsyncError):
    """Bad admin (or script) input; ``status`` is the HTTP status the admin API answers."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Seed:
    """A gateway's starting catalog: its entries as JSON bytes, and where they came from."""

    entries_json: bytes
    source: str


@dataclass(slots=True)
class GatewayState:
    """One simulated gateway."""

    name: str
    seed: Seed
    etag_default: bool = True
    entries: list[Any] = field(default_factory=list)
    removed: dict[str, tuple[int, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: int = 0
    etag: bool = True
    version: int = 0
    log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOG_LENGTH))
    rendered: dict[tuple[Any, ...], Rendered] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reset()

    @property
    def shape(self) -> Shape:
        """The gateway's entry shape."""
        return SHAPES[self.name]

    def reset(self) -> None:
        """Back to the seed: entries, faults, counters, log and ETag switch."""
        self.entries = orjson.loads(self.seed.entries_json)
        self.removed.clear()
        self.faults.clear()
        self.requests = 0
        self.etag = self.etag_default
        self.log.clear()
        self.changed()

    def changed(self) -> None:
        """Note a change to the entries: bumps the version, drops cached bodies."""
        self.version += 1
        self.rendered.clear()

    def index_of(self, model_id: str) -> int | None:
        """Position of the active model ``model_id`` (Google's ``models/`` prefix optional)."""
        wanted = model_id.removeprefix(self.shape.id_prefix)
        for index, entry in enumerate(self.entries):
            if entry_id(self.shape, entry) == wanted:
                return index
        return None

    def ids(self) -> list[str]:
        """The active models' ids, in order."""
        return [entry_id(self.shape, entry) for entry in self.entries]

    def take_fault(self) -> Fault | None:
        """The fault this request meets (consuming one use of it), or ``None``."""
        if not self.faults:
            return None
        fault = self.faults[0]
        if fault.consume():
            self.faults.pop(0)
        return fault

    def remember(self, key: tuple[Any, ...], body: bytes, headers: Mapping[str, str]) -> None:
        """Cache a rendered body and its headers for this version (a few variants at most)."""
        if len(self.rendered) >= RENDER_CACHE_SIZE:
            self.rendered.pop(next(iter(self.rendered)))
        self.rendered[key] = (body, dict(headers))

    def describe(self) -> dict[str, Any]:
        """The gateway's state as JSON."""
        return {
            "models": len(self.entries),
            "removed": sorted(self.removed),
            "faults": [fault.describe() for fault in self.faults],
            "requests": self.requests,
            "etag": self.etag,
            "version": self.version,
            "source": self.seed.source,
            "mutations": list(self.log),
        }


class SimulatorState:
    """Every simulated gateway, the clock and the seeded random source for picks."""

    def __init__(
        self,
        seeds: Mapping[str, Seed],
        *,
        clock: Clock | None = None,
        seed: int = 0,
        etag: bool = True,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.random_seed = seed
        self.rng = random.Random(seed)  # noqa: S311 - simulated data, not security
        self.gateways = {
            name: GatewayState(name=name, seed=item, etag_default=etag)
            for name, item in seeds.items()
        }
        self.reference_factor = Decimal(1)
        """Every reference catalog price is multiplied by this (``/_admin/reference-factor``)."""
        self.side_failures: dict[str, int] = {}
        """Failures left per side endpoint (fal's pricing, the reference catalogs)."""

    def take_side_failure(self, endpoint: str) -> bool:
        """Whether this request to a side endpoint fails (consuming one failure)."""
        left = self.side_failures.get(endpoint, 0)
        if left <= 0:
            return False
        self.side_failures[endpoint] = left - 1
        return True

    def gateway(self, name: Any) -> GatewayState:
        """The gateway called ``name``; AdminInputError 404 when there is none."""
        state = self.gateways.get(name) if isinstance(name, str) else None
        if state is None:
            known = ", ".join(self.gateways)
            raise AdminInputError(f"unknown gateway {name!r}; known: {known}", status=404)
        return state

    def reset(self, name: str | None = None) -> list[str]:
        """Reset one gateway (or all) to the seed; returns the names reset."""
        targets = [self.gateway(name)] if name is not None else list(self.gateways.values())
        for state in targets:
            state.reset()
        if name is None:
            self.rng = random.Random(self.random_seed)  # noqa: S311
        return [state.name for state in targets]

    def describe(self) -> dict[str, Any]:
        """Every gateway's state as JSON."""
        return {name: state.describe() for name, state in self.gateways.items()}
