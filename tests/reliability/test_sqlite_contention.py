"""A big apply never locks other SQLite writers out: its rows are staged in short transactions.

Another process writes the same file in a loop (busy timeout 5 s, half modelsync's) while this
one applies a 20,000-model plan. Every write of the other process gets through, and no write
transaction of the apply holds the file for most of the apply (one transaction for all of it,
before): the Python work (rows, JSON) happens in staging chunks of 2,000 rows, each its own
short transaction, and the one publishing transaction only copies them table to table.
(``benchmarks/bench_apply_lock.py`` measures the same at the 100,000-model bound; both run
:mod:`modelsync.sync.lock_probe`.)
"""

from __future__ import annotations

from pathlib import Path

from modelsync.sync.lock_probe import apply_beside_a_writer
from store.factories import T0, model

MODELS = 20_000


async def test_a_big_apply_never_locks_another_writer_out(tmp_path: Path) -> None:
    """20,000 models applied while another process writes: no 'database is locked', and no
    write transaction of the apply holds the file for most of it."""
    snapshot = [model("big", n) for n in range(MODELS)]
    probe = await apply_beside_a_writer(
        tmp_path / "modelsync.db", snapshot, started_at=T0, busy_timeout_s=5.0
    )
    assert len(probe.result.changes) == MODELS
    assert (probe.locked, probe.writes > 0) == (0, True)
    assert len(probe.held_s) > MODELS * 2 // 2_000  # the staging chunks, publishing, clearing
    longest = max(probe.held_s)
    assert longest < probe.applied_s * 0.6, (longest, probe.applied_s, probe.longest_wait_s)
