"""Quick status (issue 12 item 5): ``modelsync status`` on a SQLite database at head is read with
``sqlite3`` from the store's own compiled statements, prints what the store's path prints, byte
for byte, and leaves everything it is not sure of to that path."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from modelsync.cli import model_sync_status_main, status_view
from modelsync.cli.app import app
from modelsync.cli.quick_status import (
    STATUS_SQL_FILE,
    parse_status_args,
    quick_status,
    rendered_status_sql,
    sqlite_file,
)
from service_process import clean_environment, cli_sync, simulator

pytestmark = pytest.mark.timeout(120)
"""The module's database is made by a ``modelsync sync`` process of its own, once."""

FROZEN = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
UPSTREAM = "http://127.0.0.1:9/unused"
"""The upstream the settings name while reading (nothing is fetched); the sync's is the same
simulator's, whose URL is in the module's settings as well: see :func:`settings`."""
HEAVY = ("sqlalchemy", "aiosqlite", "alembic", "structlog", "typer", "httpx", "fastapi", "rich")
"""Not one of them for `status --json` (rich draws the table alone)."""

IMPORTS_AFTER_STATUS = """
import sys
from modelsync.cli import main
watched = set(sys.argv[1].split(","))
sys.argv = ["modelsync", "status", "--json"]
main()
heavy = sorted({name.split(".")[0] for name in sys.modules} & watched)
sys.stderr.write("heavy: " + ",".join(heavy) + "\\n")
"""


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A database after ``modelsync sync all`` on the simulator, and the settings it ran with."""
    folder = tmp_path_factory.mktemp("synced")
    database = folder / "synced.db"
    url = f"sqlite+aiosqlite:///{database}"
    with simulator() as upstream:
        cli_sync(upstream, url, folder, "all")
        settings = {"MODELSYNC_UPSTREAM": upstream, "MODELSYNC_HTTP__ATTEMPTS": "1"}
    return database, settings


@pytest.fixture
def database(
    synced: tuple[Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A copy of the synced database in ``tmp_path``, the sync's settings in the environment
    (and only those), the tables' clock frozen; logging put back afterwards."""
    source, settings = synced
    copy = tmp_path / "m.db"
    with sqlite3.connect(source) as origin, sqlite3.connect(copy) as target:
        origin.backup(target)
    origin.close()
    target.close()
    monkeypatch.chdir(tmp_path)
    environment = clean_environment(
        **settings, MODELSYNC_DATABASE_URL=f"sqlite+aiosqlite:///{copy}", COLUMNS="200"
    )
    for name in list(os.environ):
        if name not in environment:
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(status_view, "now", lambda: FROZEN)
    saved, handlers = structlog.get_config(), logging.root.handlers[:]
    yield copy
    structlog.configure(**saved)
    logging.root.handlers[:] = handlers


def quick(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    show = quick_status(args)
    assert show is not None, f"{args}: the quick path fell back"
    capsys.readouterr()
    show()
    return capsys.readouterr().out


def slow(args: list[str]) -> str:
    """The store's path: the typer app itself."""
    done = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    return done.stdout


def execute(database: Path, sql: str) -> None:
    with sqlite3.connect(database) as connection:
        connection.execute(sql)
    connection.close()


def test_the_sql_file_is_what_sqlalchemy_compiles() -> None:
    assert STATUS_SQL_FILE.read_text(encoding="utf-8") == rendered_status_sql(), (
        "a statement, a column or a migration changed: write the quick status SQL again with "
        "python -c 'from modelsync.cli.quick_status import write_status_sql; write_status_sql()'"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["status", "--json"],
        ["status", "openrouter"],
        ["status", "openrouter", "--json"],
        ["status", "--json", "groq"],
        ["status", "all"],
    ],
)
def test_after_a_sync_both_paths_print_the_same(
    database: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    answer = quick(args, capsys)
    assert answer == slow(args)
    assert "ok" in answer  # synced: not a fresh database's "pending"


def test_a_failing_gateway_with_quarantined_entries(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    execute(
        database,
        "UPDATE gateways SET consecutive_failures = 3, last_outcome = 'failed', "
        "last_error = 'HTTP 500 from upstream (gave up after 1 attempts)', "
        """quarantined = '{"acme/a": "no price", "acme/b": "bad context"}' """
        "WHERE name = 'openrouter'",
    )
    table = quick(["status"], capsys)
    assert table == slow(["status"])
    assert "2 entries quarantined" in table
    document = quick(["status", "openrouter", "--json"], capsys)
    assert document == slow(["status", "openrouter", "--json"])
    assert '"status": "failing"' in document
    assert '"reason": "bad context"' in document


def test_serving_processes_are_listed_alike(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def clock(shift: str) -> str:
        return f"strftime('%Y-%m-%d %H:%M:%f', 'now', '{shift}') || '000'"

    for name, silent in (("serve-a", "+0 seconds"), ("serve-b", "-20 seconds")):
        execute(
            database,
            "INSERT INTO processes (id, host, pid, version, started_at, last_seen_at, "
            f"applied_version, behind_since) VALUES ('{name}', 'host-1', 42, '1.0', "
            f"{clock('-60 seconds')}, {clock(silent)}, "
            "(SELECT version FROM catalog_meta WHERE id = 1), NULL)",
        )
    table = quick(["status"], capsys)
    assert table == slow(["status"])
    assert "serve-a" in table
    assert "lagging" in table  # serve-b: silent for more than two heartbeats
    document = quick(["status", "--json"], capsys)
    assert document == slow(["status", "--json"])
    assert '"lagging": true' in document


def test_the_front_end_script_answers_quickly_too(
    database: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = quick(["status", "--json"], capsys)
    monkeypatch.setattr(sys, "argv", ["model-sync-status", "--json"])
    monkeypatch.setattr("modelsync.cli.app.model_sync_status_main", None)  # not called
    model_sync_status_main()
    assert capsys.readouterr().out == expected


def test_status_on_a_synced_database_imports_nothing_of_the_store(database: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS_AFTER_STATUS, ",".join(HEAVY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stderr.splitlines()[-1] == "heavy: ", done.stderr
    assert '"gateways"' in done.stdout


def test_a_missing_database_falls_back_and_is_not_created(database: Path) -> None:
    database.unlink()
    assert quick_status(["status"]) is None
    assert not database.exists()


def test_an_old_schema_falls_back(database: Path) -> None:
    execute(database, "UPDATE alembic_version SET version_num = '0010'")
    assert quick_status(["status"]) is None


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE gateways SET interval_s = interval_s + 1 WHERE name = 'groq'",
        "UPDATE gateways SET enabled = 1 - enabled WHERE name = 'groq'",
        "DELETE FROM gateways WHERE name = 'fal'",
    ],
)
def test_rows_not_registered_as_configured_fall_back(database: Path, change: str) -> None:
    execute(database, change)
    assert quick_status(["status"]) is None


def test_an_unknown_gateway_falls_back(database: Path) -> None:
    assert quick_status(["status", "nope"]) is None
    done = CliRunner().invoke(app, ["status", "nope"])
    assert done.exit_code == 2
    assert "unknown gateway 'nope'" in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["status", "--remote", "http://127.0.0.1:9"],
        ["status", "--help"],
        ["status", "groq", "fal"],
        ["status", "--json", "--json"],
        ["--debug", "status"],
        ["status", "--", "groq"],
        ["sync"],
        [],
    ],
)
def test_other_arguments_fall_back(database: Path, args: list[str]) -> None:
    assert quick_status(args) is None


def test_a_postgresql_url_falls_back(database: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSYNC_DATABASE_URL", "postgresql+asyncpg://u:p@127.0.0.1:9/nothing")
    assert quick_status(["status"]) is None


def test_broken_settings_fall_back(database: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSYNC_PROCESS__HEARTBEAT_S", "-1")
    assert quick_status(["status"]) is None


def test_only_plain_sqlite_files_are_read_quickly() -> None:
    assert sqlite_file("sqlite+aiosqlite:///./m.db") == Path("./m.db")
    assert sqlite_file("sqlite:////tmp/m.db") == Path("/tmp/m.db")
    for url in (
        "postgresql+asyncpg://localhost/m",
        "sqlite+aiosqlite://",
        "sqlite+aiosqlite:///:memory:",
        "sqlite+aiosqlite:///file:m.db?mode=ro&uri=true",
        "sqlite+aiosqlite:///m.db?timeout=3",
        "sqlite+aiosqlite:///m%20n.db",
        "mysql:///m.db",
    ):
        assert sqlite_file(url) is None, url


def test_status_arguments() -> None:
    assert parse_status_args(["status"]) is not None
    request = parse_status_args(["status", "--json", "groq"])
    assert request is not None
    assert (request.gateway, request.json) == ("groq", True)
    assert parse_status_args(["status", "-x"]) is None
