"""``modelsync serve --demo`` as a new user runs it, and the CLI's ``--remote`` against it.

One demo process (simulator and service in one) serves the module, from a working directory of
its own with no gateway key and no fixtures: what a fresh machine has.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import free_port
from modelsync.gateways.registry import BUILTIN
from modelsync.sync.health import STATUS_FIELDS
from service_process import BIN, clean_environment, wait_for

pytestmark = pytest.mark.timeout(240)
"""Each test runs the installed commands as processes, several of them, and each process
starts in seconds on a loaded machine: the default 60 s is too short for their sum."""


GATEWAYS = sorted(spec.name for spec in BUILTIN)


@dataclass(frozen=True)
class Demo:
    base: str
    token: str
    folder: Path
    log: Path

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(self.base + path, params=params, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def cli(self, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
        env = clean_environment()
        if token is not None:
            env["MODELSYNC_ADMIN_TOKEN"] = token
        return subprocess.run(
            [str(BIN / "modelsync"), *args],
            cwd=self.folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo on free ports; waits until it answers and its banner named the admin token."""
    folder = tmp_path_factory.mktemp("demo")
    port, simulator_port = free_port(), free_port()
    log_path = folder / "demo.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(BIN / "modelsync"), "serve", "--demo", "--port", str(port),
             "--simulator-port", str(simulator_port)],
            cwd=folder, env=clean_environment(), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:

            def up() -> bool:
                assert process.poll() is None, log_path.read_text()
                try:
                    return httpx.get(base + "/healthz", timeout=1).status_code == 200
                except httpx.TransportError:
                    return False

            wait_for(up, timeout_s=30, what="the demo answers /healthz")
            match = re.search(r"Bearer\s+(\S+)", log_path.read_text())
            assert match, log_path.read_text()
            yield Demo(base, match.group(1), folder, log_path)
        finally:
            process.terminate()
            process.wait(timeout=20)


def test_demo_starts_every_gateway_without_keys(demo: Demo) -> None:
    """All 13 gateways are enabled (the simulator plays them) and the scheduler is alive."""
    status = demo.get("/api/sync/status")
    assert sorted(row["gateway"] for row in status["gateways"]) == GATEWAYS
    assert {row["status"] for row in status["gateways"]} <= {"pending", "ok", "degraded"}
    assert status["process"]["scheduler_alive"] is True
    assert demo.get("/readyz")["status"] == "ready"


def test_demo_changes_arrive_within_a_minute(demo: Demo) -> None:
    """Models appear, and a scripted change announced by a signed webhook shows as such."""

    def webhook_changes() -> bool:
        changes = demo.get("/api/changes", limit=1000)["changes"]
        return any(change["source"] == "webhook" for change in changes)

    wait_for(webhook_changes, timeout_s=60, what="a webhook-triggered change")
    models = demo.get("/api/models", limit=5000)
    assert models["count"] > 0
    assert any(row["last_webhook"] for row in demo.get("/api/sync/status")["gateways"])


def test_remote_sync_and_status_print_what_in_process_prints(demo: Demo) -> None:
    """``sync --remote`` waits and reports per gateway; ``status --remote`` has the same keys."""
    synced = demo.cli("sync", "groq", "--remote", demo.base, "--json", token=demo.token)
    assert synced.returncode == 0, synced.stderr
    report = json.loads(synced.stdout)
    assert isinstance(report["catalog_version"], int)
    (row,) = report["gateways"]
    assert row["gateway"] == "groq"
    assert row["outcome"] in {"changed", "unchanged", "not_modified"}
    status = demo.cli("status", "--remote", demo.base, "--json")
    assert status.returncode == 0, status.stderr
    rows = json.loads(status.stdout)["gateways"]
    assert sorted(row["gateway"] for row in rows) == GATEWAYS
    assert all(tuple(row) == STATUS_FIELDS for row in rows)
    people = demo.cli("sync", "all", "--remote", demo.base, token=demo.token)
    assert people.returncode == 0, people.stderr
    assert all(name in people.stdout for name in GATEWAYS)


def test_the_banner_says_how_the_cli_reads_the_demo(demo: Demo, tmp_path: Path) -> None:
    """The banner names the demo's database for the CLI; from another folder, ``status`` with
    it shows the demo's gateways, their sub-minute intervals in seconds (issue 7: 7)."""
    banner = demo.log.read_text()
    assert f"listens on {demo.base}" in banner
    match = re.search(r"CLI\s+MODELSYNC_DATABASE_URL=(\S+) modelsync status", banner)
    assert match, banner
    env = clean_environment() | {"MODELSYNC_DATABASE_URL": match.group(1), "COLUMNS": "200"}
    done = subprocess.run(
        [str(BIN / "modelsync"), "status"], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    gateways_table = done.stdout.split("\nprocess ")[0]  # the fleet's table follows it
    rows = {line.split()[0]: line.split() for line in gateways_table.splitlines()[1:] if line}
    assert sorted(rows) == GATEWAYS
    assert rows["openrouter"][2] == "20s"  # the high tier's demo interval, not "every 0m"
    assert rows["fal"][2] == "45s"
    assert not list(tmp_path.glob("*.db"))  # it read the demo's, created none


@pytest.mark.parametrize(("token", "code"), [(None, 2), ("wrong-token", 2)])
def test_remote_sync_needs_the_admin_token(demo: Demo, token: str | None, code: int) -> None:
    """Without the right token the server refuses, and the command says how to fix it."""
    result = demo.cli("sync", "groq", "--remote", demo.base, token=token)
    assert result.returncode == code
    assert "MODELSYNC_ADMIN_TOKEN" in result.stderr


def test_remote_that_does_not_answer_is_an_error(demo: Demo) -> None:
    """A server that is not there: exit 1, and the address in the message."""
    dead = f"http://127.0.0.1:{free_port()}"
    result = demo.cli("status", "--remote", dead)
    assert result.returncode == 1
    assert "cannot reach" in result.stderr


def test_demo_prices_offers_from_the_reference_catalogs(demo: Demo) -> None:
    """Issue 9 items 3 and 5: the demo's simulator plays models.dev and LiteLLM, so Groq,
    Google and Cerebras (whose APIs give no prices) show prompt prices from a reference catalog,
    named as the source, and Nebius its own; fal its unit prices."""

    def priced() -> bool:
        offers = demo.get("/api/models", limit=5000)["models"]
        by_gateway: dict[str, list[dict[str, Any]]] = {}
        for offer in offers:
            by_gateway.setdefault(offer["gateway"], []).append(offer)
        for gateway in ("groq", "google", "cerebras"):
            sources = {
                o["pricing"]["source"] for o in by_gateway.get(gateway, [])
                if o["pricing"]["prompt"] is not None
            }  # fmt: skip
            if not sources or not all(s.startswith(("models.dev@", "litellm@")) for s in sources):
                return False
        nebius = [o for o in by_gateway.get("nebius", []) if o["pricing"]["prompt"] is not None]
        fal = [o for o in by_gateway.get("fal", []) if o["pricing"]["unit_price"] is not None]
        return bool(nebius) and bool(fal)

    wait_for(priced, timeout_s=120, what="reference prices on groq, google and cerebras")
