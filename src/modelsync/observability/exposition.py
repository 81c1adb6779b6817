"""The per-gateway metric families, kept as values and rendered in Prometheus' text format fast.

With a thousand gateways the per-gateway families hold some 20,000 samples; prometheus-client's
``generate_latest`` formats every sample on every scrape (a quarter of a second on a busy
2-core machine). Here each gateway's lines of each family are rendered once and kept until that
gateway's values change; the gateways are kept in segments of :data:`SEGMENT` and each family's
segment (its gateways' lines) is kept whole, with its deflated form, until one of them changes:
an idle scrape returns cached bytes, and a run re-renders two segments, not two families.
:func:`gzip_stream` joins deflated blocks into one valid gzip member
(each block is compressed on its own and ends on a byte boundary), so a scraper that asks for
gzip (Prometheus does) gets a tenth of the bytes for no compression work per scrape.

Only :class:`GatewayFamilies` writes these values; :mod:`modelsync.observability.metrics` calls it.
"""

from __future__ import annotations

import struct
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

RUN_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
"""Run duration buckets (seconds): a 304 takes tens of ms, a 50,000-model apply a minute."""


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    kind: str
    help: str

    def header(self) -> bytes:
        return f"# HELP {self.name} {self.help}\n# TYPE {self.name} {self.kind}\n".encode()


RUNS = Family("modelsync_sync_runs_total", "counter", "Sync runs by gateway and outcome.")
DURATION = Family(
    "modelsync_sync_run_duration_seconds", "histogram", "Sync run duration by gateway."
)
CHANGES = Family(
    "modelsync_changes_total", "counter", "Catalog changes applied by gateway and kind."
)
UPSTREAM = Family(
    "modelsync_upstream_requests_total",
    "counter",
    "HTTP requests to gateways' APIs by gateway and status (error: no answer).",
)
MODELS = Family("modelsync_gateway_models", "gauge", "Models currently listed per gateway.")
BREAKER = Family(
    "modelsync_gateway_breaker_state",
    "gauge",
    "Circuit breaker per gateway: 0 closed, 1 half-open, 2 open.",
)
FAILURES = Family(
    "modelsync_gateway_consecutive_failures", "gauge", "Failed runs in a row per gateway."
)
FAMILIES = (RUNS, DURATION, CHANGES, UPSTREAM, MODELS, BREAKER, FAILURES)
BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}


def escape(value: str) -> str:
    """A label value as the text format wants it."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


SEGMENT = 64
"""Gateways per cached segment of a family."""


@dataclass(slots=True)
class _Gateway:
    label: str
    index: int
    runs: Counter[str] = field(default_factory=Counter)
    buckets: list[int] = field(default_factory=lambda: [0] * len(RUN_BUCKETS))
    duration_sum: float = 0.0
    duration_count: int = 0
    changes: Counter[str] = field(default_factory=Counter)
    upstream: Counter[str] = field(default_factory=Counter)
    state: tuple[int, int, int] | None = None
    """models, breaker, consecutive failures (from the store)."""
    chunks: dict[str, bytes] = field(default_factory=dict)

    def render(self, family: Family) -> bytes:
        chunk = self.chunks.get(family.name)
        if chunk is None:
            chunk = self.chunks[family.name] = "".join(self._lines(family)).encode()
        return chunk

    def _lines(self, family: Family) -> list[str]:
        gw = f'gateway="{self.label}"'
        name = family.name
        if family is RUNS:
            return [f'{name}{{{gw},outcome="{escape(k)}"}} {v}\n' for k, v in self.runs.items()]
        if family is CHANGES:
            return [f'{name}{{{gw},kind="{escape(k)}"}} {v}\n' for k, v in self.changes.items()]
        if family is UPSTREAM:
            return [f'{name}{{{gw},status="{escape(k)}"}} {v}\n' for k, v in self.upstream.items()]
        if family is DURATION:
            return self._histogram(name, gw)
        if self.state is None:
            return []
        value = self.state[(MODELS, BREAKER, FAILURES).index(family)]
        return [f"{name}{{{gw}}} {value}\n"]

    def _histogram(self, name: str, gw: str) -> list[str]:
        if not self.duration_count:
            return []
        lines, total = [], 0
        for bound, count in zip(RUN_BUCKETS, self.buckets, strict=True):
            total += count
            lines.append(f'{name}_bucket{{{gw},le="{number(bound)}"}} {total}\n')
        lines.append(f'{name}_bucket{{{gw},le="+Inf"}} {self.duration_count}\n')
        lines.append(f"{name}_sum{{{gw}}} {number(self.duration_sum)}\n")
        lines.append(f"{name}_count{{{gw}}} {self.duration_count}\n")
        return lines


@dataclass(frozen=True, slots=True)
class Block:
    """Exposition text, and the same deflated on its own (ending on a byte boundary)."""

    raw: bytes
    deflated: bytes

    @classmethod
    def of(cls, raw: bytes) -> Block:
        compressor = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
        return cls(raw, compressor.compress(raw) + compressor.flush(zlib.Z_SYNC_FLUSH))


_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_FINAL_BLOCK = b"\x03\x00"  # an empty, final, fixed-Huffman deflate block


def gzip_stream(blocks: Sequence[Block]) -> bytes:
    """PURE: one gzip member holding the blocks' text in order (RFC 1951/1952)."""
    crc, size = 0, 0
    for block in blocks:
        crc = zlib.crc32(block.raw, crc)
        size += len(block.raw)
    trailer = struct.pack("<II", crc, size & 0xFFFFFFFF)
    return b"".join([_GZIP_HEADER, *(block.deflated for block in blocks), _FINAL_BLOCK, trailer])


class GatewayFamilies:
    """The per-gateway values of one process, and their text exposition."""

    def __init__(self) -> None:
        self._gateways: dict[str, _Gateway] = {}
        self._order: list[_Gateway] = []
        self._blocks: dict[tuple[str, int], Block] = {}
        self._headers = {family.name: Block.of(family.header()) for family in FAMILIES}

    def _of(self, gateway: str) -> _Gateway:
        found = self._gateways.get(gateway)
        if found is None:
            found = self._gateways[gateway] = _Gateway(escape(gateway), len(self._order))
            self._order.append(found)
        return found

    def run(self, gateway: str, outcome: str, duration_s: float) -> None:
        entry = self._of(gateway)
        entry.runs[outcome] += 1
        for index, bound in enumerate(RUN_BUCKETS):
            if duration_s <= bound:
                entry.buckets[index] += 1
                break
        entry.duration_sum += duration_s
        entry.duration_count += 1
        self._touch(entry, RUNS, DURATION)

    def changes(self, gateway: str, kind: str, count: int) -> None:
        entry = self._of(gateway)
        entry.changes[kind] += count
        self._touch(entry, CHANGES)

    def upstream(self, gateway: str, status: str) -> None:
        entry = self._of(gateway)
        entry.upstream[status] += 1
        self._touch(entry, UPSTREAM)

    def state(self, gateway: str, *, models: int, breaker: str, failures: int) -> None:
        entry = self._of(gateway)
        state = (models, BREAKER_VALUES.get(breaker, 0), failures)
        if entry.state != state:
            entry.state = state
            self._touch(entry, MODELS, BREAKER, FAILURES)

    def _touch(self, entry: _Gateway, *families: Family) -> None:
        segment = entry.index // SEGMENT
        for family in families:
            entry.chunks.pop(family.name, None)
            self._blocks.pop((family.name, segment), None)

    def forget(self, keep: set[str]) -> None:
        """Drop the gateways not in ``keep`` (removed from the configuration)."""
        gone = [name for name in self._gateways if name not in keep]
        for name in gone:
            del self._gateways[name]
        if gone:
            self._order = list(self._gateways.values())
            for index, entry in enumerate(self._order):
                entry.index = index
            self._blocks.clear()

    def value(self, family: Family, gateway: str, label: str | None = None) -> float | None:
        """One value, for tests: a counter's (by its second label) or a gauge's."""
        entry = self._gateways.get(gateway)
        if entry is None:
            return None
        table = {RUNS: entry.runs, CHANGES: entry.changes, UPSTREAM: entry.upstream}
        if family in table:
            return table[family].get(label or "")
        if family is DURATION:
            return entry.duration_count
        return (
            None if entry.state is None else entry.state[(MODELS, BREAKER, FAILURES).index(family)]
        )

    def blocks(self) -> list[Block]:
        """Each family's block: its header once and each gateway's lines (all cached until a
        value in them changes)."""
        found = []
        segments = range(0, len(self._order), SEGMENT)
        for family in FAMILIES:
            found.append(self._headers[family.name])
            for start in segments:
                key = (family.name, start // SEGMENT)
                block = self._blocks.get(key)
                if block is None:
                    entries = self._order[start : start + SEGMENT]
                    raw = b"".join(entry.render(family) for entry in entries)
                    block = self._blocks[key] = Block.of(raw)
                found.append(block)
        return found

    def render(self) -> bytes:
        """The text of every family."""
        return b"".join(block.raw for block in self.blocks())
