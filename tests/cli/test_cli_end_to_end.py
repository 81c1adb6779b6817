"""The installed console scripts, run as subprocesses against ``modelsync simulate``.

One simulator process serves the module (built-in catalogs, so counts are exact); it is reset
before each test. Every test runs the commands in a working directory and database of its own,
with ``MODELSYNC_UPSTREAM`` pointing at the simulator and no gateway key set.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from sqlalchemy.engine import make_url

from conftest import POSTGRES_URL, free_port, service_unavailable
from modelsync.gateways.registry import BUILTIN
from modelsync.store.migrate import head_revision

pytestmark = pytest.mark.timeout(240)
"""Each test runs the installed commands as processes, several of them, and each process
starts in seconds on a loaded machine: the default 60 s is too short for their sum."""


BIN = Path(sys.executable).parent
GATEWAYS = [spec.name for spec in BUILTIN]
SONNET = "anthropic/claude-sonnet-4.5"
"""An OpenRouter model of the built-in catalog at USD 3 / 15 per 1M tokens."""
COMMAND_TIMEOUT_S = 60
KEY_VARIABLES = {spec.key_env for spec in BUILTIN if spec.key_env}


def clean_environment() -> dict[str, str]:
    """This process's environment without any modelsync setting or gateway key."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("MODELSYNC_") and name not in KEY_VARIABLES
    }


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``modelsync simulate`` on a free port, on its built-in catalogs; its base URL."""
    folder = tmp_path_factory.mktemp("simulator")
    port = free_port()
    env = clean_environment() | {"MODELSYNC_SIMULATOR_FIXTURES": "none"}
    log = (folder / "simulator.log").open("w")
    process = subprocess.Popen(
        [BIN / "modelsync", "simulate", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, (folder / "simulator.log").read_text()
            assert time.monotonic() < deadline, "the simulator did not answer within 20 s"
            try:
                if httpx.get(base + "/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        log.flush()
        said = (folder / "simulator.log").read_text()
        assert f"modelsync simulate: listening on {base}\n" in said, said  # issue 7: 7
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def admin(simulator: str, method: str, path: str, **kwargs: Any) -> Any:
    """One call of the simulator's admin API; fails the test unless it answers 200."""
    response = httpx.request(method, simulator + path, timeout=5, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


@dataclass(frozen=True, slots=True)
class Done:
    """A finished command."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """Stdout as the one JSON object ``--json`` prints."""
        return json.loads(self.out)


@dataclass(frozen=True, slots=True)
class Cli:
    """Runs the console scripts in one working directory, on one database, at the simulator."""

    cwd: Path
    env: dict[str, str]

    def __call__(self, script: str, *args: str) -> Done:
        """Run ``script args...`` to completion."""
        done = subprocess.run(
            [BIN / script, *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
        return Done(done.returncode, done.stdout, done.stderr)

    def ok_json(self, script: str, *args: str) -> Any:
        """Run a ``--json`` command that must exit 0; its JSON."""
        done = self(script, *args, "--json")
        assert done.code == 0, done
        return done.json()


def cli_for(simulator: str, cwd: Path, database_url: str | None = None) -> Cli:
    """A Cli in ``cwd``, on ``database_url`` (default: a SQLite file in ``cwd``)."""
    url = database_url or f"sqlite+aiosqlite:///{cwd / 'modelsync.db'}"
    env = clean_environment() | {
        "MODELSYNC_UPSTREAM": simulator,
        "MODELSYNC_DATABASE_URL": url,
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    return Cli(cwd, env)


@pytest.fixture
def cli(simulator: str, tmp_path: Path) -> Cli:
    """Commands in this test's own folder and database, against a freshly reset simulator."""
    admin(simulator, "POST", "/_admin/reset")
    return cli_for(simulator, tmp_path)


def by_gateway(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rows keyed by their ``gateway``."""
    return {row["gateway"]: row for row in rows}


def test_sync_all_json(cli: Cli) -> None:
    """``sync all --json`` syncs all 13 gateways from an empty database."""
    report = cli.ok_json("modelsync", "sync", "all")
    assert report["catalog_version"] == 13
    assert [row["gateway"] for row in report["gateways"]] == GATEWAYS
    for row in report["gateways"]:
        assert row["outcome"] == "changed", row
        assert row["added"] == row["total_models"] > 0, row
        assert (row["updated"], row["removed"], row["error"]) == (0, 0, None), row
        assert set(row) >= {"gateway", "outcome", "added", "updated", "removed", "total_models",
                            "duration_ms", "error"}  # fmt: skip


def test_rich_output_lists_every_gateway(cli: Cli) -> None:
    """Without ``--json``, ``sync`` and ``status`` print one line per gateway for people."""
    synced = cli("modelsync", "sync", "all")
    assert synced.code == 0, synced
    lines = synced.out.splitlines()
    for name in GATEWAYS:
        [line] = [line for line in lines if f" {name} " in f" {line} "]
        assert "changed" in line
        assert "models" in line
    assert "catalog version 13: 13 changed" in synced.out
    status = cli("modelsync", "status")
    assert status.code == 0, status
    for name in GATEWAYS:
        assert any(line.split()[:2] == [name, "ok"] for line in status.out.splitlines()), name


def test_reprice_appears_in_changes(simulator: str, cli: Cli) -> None:
    """A scripted reprice shows as an ``updated`` change with USD-per-1M field diffs."""
    [first] = cli.ok_json("modelsync", "sync", "openrouter")["gateways"]
    cursor = first["added"]  # a fresh database: the added changes are seqs 1..added
    body = {"gateway": "openrouter", "op": "reprice", "model_id": SONNET, "factor": 2}
    admin(simulator, "POST", "/_admin/mutate", json=body)

    human = cli("modelsync", "sync", "openrouter")
    assert human.code == 0, human
    assert human.out.splitlines()[-1] == f"changes: modelsync changes --since {cursor}"
    report = cli.ok_json("modelsync", "sync", "openrouter")  # nothing more to change
    [row] = report["gateways"]
    assert report["changes_since"] == cursor + 1
    assert (row["outcome"], row["added"], row["updated"], row["removed"]) == (
        "not_modified", 0, 0, 0,
    )  # fmt: skip
    assert report["catalog_version"] == 2
    page = cli.ok_json("modelsync", "changes", "--gateway", "openrouter", "--since", str(cursor))
    [change] = page["changes"]
    assert change["fields"] == {"pricing.prompt": ["3", "6"], "pricing.completion": ["15", "30"]}
    assert (change["kind"], change["gateway_model_id"], change["id"]) == ("updated", SONNET, SONNET)
    assert (change["gateway"], change["source"], change["catalog_version"]) == (
        "openrouter", "manual", 2,
    )  # fmt: skip
    assert page["next"] == change["seq"] == cursor + 1


def test_removal_after_the_second_missing_poll(simulator: str, cli: Cli) -> None:
    """A removed model is ``missing`` after one poll and recorded ``removed`` after the second."""
    [synced] = cli.ok_json("modelsync", "sync", "groq")["gateways"]
    body = {"gateway": "groq", "op": "remove", "model_id": "llama-3.3-70b-versatile"}
    admin(simulator, "POST", "/_admin/mutate", json=body)

    first = cli.ok_json("modelsync", "sync", "groq")
    assert (first["gateways"][0]["outcome"], first["gateways"][0]["missing"]) == ("changed", 1)
    assert (first["gateways"][0]["removed"], first["gateways"][0]["total_models"]) == (0, 13)
    second = cli.ok_json("modelsync", "sync", "groq")
    assert (second["gateways"][0]["outcome"], second["gateways"][0]["missing"]) == ("changed", 0)
    assert second["gateways"][0]["removed"] == 1
    page = cli.ok_json("modelsync", "changes", "--since", str(synced["added"]))
    [change] = page["changes"]  # the first poll recorded none
    assert (change["kind"], change["gateway_model_id"]) == ("removed", "llama-3.3-70b-versatile")
    assert change["catalog_version"] == second["catalog_version"] == first["catalog_version"] + 1
    assert change["fields"] == {}


def test_fault_fails_the_sync_and_shows_in_status(simulator: str, cli: Cli) -> None:
    """Upstream 500s: ``sync`` exits 1 with the error; ``status`` shows degraded and failing."""
    quick = {"MODELSYNC_HTTP__ATTEMPTS": "2", "MODELSYNC_HTTP__BACKOFF_BASE_S": "0.01"}
    cli = Cli(cli.cwd, cli.env | quick)  # settings from nested variables; no long backoffs
    cli.ok_json("modelsync", "sync", "groq")
    for name in ("groq", "cerebras"):
        admin(simulator, "POST", "/_admin/fault", json={"gateway": name, "kind": "http_500"})
    done = cli("modelsync", "sync", "all", "--json")
    assert done.code == 1, done
    assert done.err == ""  # piped: the JSON alone, no log lines (issue 7: 8)
    rows = by_gateway(done.json()["gateways"])
    for name in ("groq", "cerebras"):
        assert rows[name]["outcome"] == "failed"
        assert rows[name]["error"].startswith(f"HTTP 500 from {simulator}/{name}/")
        assert rows[name]["error"].endswith("(gave up after 2 attempts)")
    assert {row["outcome"] for name, row in rows.items() if name not in ("groq", "cerebras")} == {
        "changed"
    }
    status = by_gateway(cli.ok_json("modelsync", "status")["gateways"])
    assert status["groq"]["status"] == "degraded"  # it has a good catalog to fall back on
    assert status["cerebras"]["status"] == "failing"  # it never had one
    for name in ("groq", "cerebras"):
        assert status[name]["last_error"] == rows[name]["error"]
        assert status[name]["consecutive_failures"] == 1
        assert status[name]["last_outcome"] == "failed"
    assert status["groq"]["model_count"] == 14
    assert status["openrouter"]["status"] == "ok"


def test_unknown_gateway_exits_2(cli: Cli) -> None:
    """An unknown gateway name is a usage error that lists the known gateways."""
    done = cli("modelsync", "sync", "nope", "--json")
    assert (done.code, done.out) == (2, "")
    assert "unknown gateway 'nope'" in done.err
    assert "known gateways: " + ", ".join(GATEWAYS) in " ".join(done.err.split())
    status = cli("modelsync", "status", "nope")
    assert status.code == 2
    assert "unknown gateway 'nope'" in status.err


def test_front_end_script_names(cli: Cli) -> None:
    """``sync-models GATEWAY`` and ``model-sync-status`` are the same commands by other names."""
    synced = cli("sync-models", "groq")
    assert synced.code == 0, synced
    assert "groq" in synced.out
    assert "catalog version 1: 1 changed" in synced.out
    status = by_gateway(cli.ok_json("model-sync-status")["gateways"])
    assert list(status) == sorted(GATEWAYS)
    assert (status["groq"]["status"], status["groq"]["model_count"]) == ("ok", 14)
    assert status["groq"]["last_success_at"] is not None
    assert status["cerebras"]["last_attempt_at"] is None
    assert set(status["groq"]) >= {
        "gateway", "status", "tier", "interval_s", "last_attempt_at", "last_success_at",
        "last_error", "consecutive_failures", "next_run_at", "model_count", "version",
    }  # fmt: skip


async def _admin_sql(statement: str) -> None:
    dsn = make_url(POSTGRES_URL).set(drivername="postgresql")
    connection = await asyncpg.connect(dsn.render_as_string(hide_password=False), timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A new, empty database on the PostgreSQL test server (dropped afterwards); its URL."""
    name = f"modelsync_cli_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin_sql(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        service_unavailable("PostgreSQL", exc)
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.postgres
@pytest.mark.timeout(180)  # five commands, one a sync of every gateway: > 60 s at load 14
def test_db_upgrade_then_sync_on_postgres(
    simulator: str, tmp_path: Path, postgres_database: str
) -> None:
    """``db upgrade`` migrates an empty PostgreSQL database to head; ``sync all`` then works."""
    admin(simulator, "POST", "/_admin/reset")
    cli = cli_for(simulator, tmp_path, postgres_database)
    refused = cli("modelsync", "sync", "groq", "--json")
    assert refused.code != 0
    assert "modelsync db upgrade" in refused.err
    upgraded = cli("modelsync", "db", "upgrade")
    assert upgraded.code == 0, upgraded
    assert upgraded.out.strip() == f"database at revision {head_revision()}"
    report = cli.ok_json("modelsync", "sync", "all")
    assert report["catalog_version"] == 13
    assert {row["outcome"] for row in report["gateways"]} == {"changed"}
    again = cli("modelsync", "db", "upgrade")
    assert (again.code, again.out) == (0, upgraded.out)
    assert not list(tmp_path.glob("*.db"))
