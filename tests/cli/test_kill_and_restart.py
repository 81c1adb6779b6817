"""SIGKILL ``modelsync sync all`` while its runs hold their leases, restart: nothing stays stuck.

The dead process's leases lapse within one lease time (by the database's clock) and the next
``sync all`` runs every gateway, instead of waiting minutes and blaming "another process".
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from test_cli_end_to_end import BIN, GATEWAYS, admin, cli_for, simulator

from modelsync.config import Settings

LEASE_S = 5
__all__ = ["simulator"]  # the module's simulator fixture, shared with the end-to-end tests


def leased(database: Path) -> int:
    """How many gateways hold a lease right now (0 while the file is not there yet)."""
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(database, timeout=1) as connection:
            found = connection.execute(
                "SELECT count(*) FROM gateways WHERE lease_owner IS NOT NULL"
            ).fetchone()
    except sqlite3.OperationalError:  # the schema is being created
        return 0
    count: int = found[0]
    return count


def test_leases_are_short_by_default() -> None:
    """Tens of seconds (renewed while a run lasts), not the five minutes that held gateways."""
    assert Settings().scheduler.lease_ttl_s == 30


@pytest.mark.slow
def test_a_killed_sync_all_leaves_nothing_stuck(simulator: str, tmp_path: Path) -> None:
    """Killed with eight runs in flight; restarted, every gateway syncs within seconds."""
    admin(simulator, "POST", "/_admin/reset")
    for gateway in GATEWAYS:
        admin(
            simulator,
            "POST",
            "/_admin/fault",
            json={"gateway": gateway, "kind": "slow", "seconds": 6},
        )
    cli = cli_for(simulator, tmp_path)
    env = cli.env | {"MODELSYNC_SCHEDULER__LEASE_TTL_S": str(LEASE_S)}
    database = tmp_path / "modelsync.db"
    with subprocess.Popen(
        [BIN / "modelsync", "sync", "all", "--json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as child:
        deadline = time.monotonic() + 30
        while leased(database) < 8:  # run_many's eight at a time, all waiting on the upstream
            assert child.poll() is None
            assert time.monotonic() < deadline, "the runs never took their leases"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    assert leased(database) == 8
    admin(simulator, "DELETE", "/_admin/fault")
    started = time.monotonic()
    restarted = subprocess.run(
        [BIN / "modelsync", "sync", "all", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    took = time.monotonic() - started
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    report = cli.ok_json("modelsync", "status")
    assert {row["status"] for row in report["gateways"]} == {"ok"}
    assert took < LEASE_S + 15
    assert leased(database) == 0
