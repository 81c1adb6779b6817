"""``modelsync changes --follow`` (issue 8 item 5): a real ``modelsync serve`` and real
``modelsync sync`` processes; the follower prints each committed change once, as a JSON line
(``--remote``, the live stream) or a human line (this database's log)."""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from service_process import BIN, clean_environment, serve_process, simulator

pytestmark = pytest.mark.timeout(240)
QUIET = '{"high": 86400, "medium": 86400, "low": 86400}'


class Lines:
    """A follower process and the lines it printed (read by a thread)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.decode())

    def take(self, count: int, within_s: float = 30) -> list[str]:
        got = []
        deadline = time.monotonic() + within_s
        while len(got) < count:
            left = deadline - time.monotonic()
            assert left > 0, f"{len(got)} of {count} lines: {got}"
            try:
                got.append(self._lines.get(timeout=left))
            except queue.Empty:
                continue
        return got

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def follower(folder: Path, env: dict[str, str], *args: str) -> Lines:
    process = subprocess.Popen(
        [str(BIN / "modelsync"), "changes", "--follow", *args],
        cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return Lines(process)


def sync(folder: Path, env: dict[str, str], gateway: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(BIN / "modelsync"), "sync", gateway, "--json"],
        cwd=folder, env=env, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = orjson.loads(done.stdout)
    return report


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with simulator() as base:
        yield base


def test_follow_remote_json_lines(upstream: str, tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'follow.db'}"
    env = clean_environment(
        MODELSYNC_DATABASE_URL=database,
        MODELSYNC_UPSTREAM=upstream,
        MODELSYNC_SCHEDULER__INTERVALS_S=QUIET,
    )
    httpx.post(upstream + "/_admin/reset", timeout=5)
    with serve_process(tmp_path, env) as served:
        head = httpx.get(served.base + "/api/sync/status", timeout=10).json()["feed"]["last_seq"]
        lines = follower(tmp_path, env, "--json", "--since", str(head), "--remote", served.base)
        try:
            httpx.post(upstream + "/_admin/mutate", json={"gateway": "groq", "op": "add"})
            sync(tmp_path, env, "groq")  # the server's scheduler may sync groq too: either adds it
            changes = httpx.get(
                served.base + "/api/changes", params={"since": head}, timeout=10
            ).json()["changes"]
            events = [orjson.loads(line) for line in lines.take(len(changes))]
            assert [e["seq"] for e in events] == [c["seq"] for c in changes]
            assert {e["type"] for e in events} == {"change"}
            assert ("groq", "added") in {(e["gateway"], e["kind"]) for e in events}
        finally:
            lines.stop()


def test_follow_local_human_lines(upstream: str, tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'local.db'}"
    env = clean_environment(MODELSYNC_DATABASE_URL=database, MODELSYNC_UPSTREAM=upstream)
    httpx.post(upstream + "/_admin/reset", timeout=5)
    sync(tmp_path, env, "cerebras")
    lines = follower(tmp_path, env)
    try:
        time.sleep(1.5)  # it starts at the log's head: cerebras' changes are not shown
        httpx.post(upstream + "/_admin/mutate", json={"gateway": "cerebras", "op": "add"})
        sync(tmp_path, env, "cerebras")
        [line] = lines.take(1)
        assert " cerebras " in line
        assert " added " in line
    finally:
        lines.stop()
