"""CLI basics (issue 7: 7, 8): ``--version``, ``python -m modelsync``, shell completion, the
front end's scripts' usage, help without reStructuredText, the API's limits, a piped ``sync``
that prints only its report, progress on a terminal, ``pending`` and seconds in ``status``.
"""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
import typer
from rich.console import Console
from typer.testing import CliRunner

from modelsync import __version__
from modelsync.cli import model_sync_status_main, sync_models_main
from modelsync.cli.app import app
from modelsync.cli.status_view import every
from modelsync.cli.sync import Progress
from modelsync.limits import CHANGES_PAGE, UNMATCHED_PAGE


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """Typer's runner in ``tmp_path`` on a database there; logging put back afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODELSYNC_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    saved, handlers = structlog.get_config(), logging.root.handlers[:]
    yield CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})
    structlog.configure(**saved)
    logging.root.handlers[:] = handlers


def test_version(cli: CliRunner) -> None:
    done = cli.invoke(app, ["--version"])
    assert (done.exit_code, done.stdout) == (0, f"modelsync {__version__}\n")


def test_python_dash_m(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "modelsync", "--version"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (0, f"modelsync {__version__}\n")


def test_shell_completion(tmp_path: Path) -> None:
    """The installed command completes its commands (what ``--install-completion`` wires up)."""
    bin_dir = Path(sys.executable).parent
    env = {
        "PATH": str(bin_dir),
        "_MODELSYNC_COMPLETE": "complete_bash",
        "COMP_WORDS": "modelsync cha",
        "COMP_CWORD": "1",
    }
    done = subprocess.run(
        [bin_dir / "modelsync"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout.split()) == (0, ["changes"]), done.stderr


def test_help_offers_completion(cli: CliRunner) -> None:
    assert "--install-completion" in cli.invoke(app, ["--help"]).stdout


@pytest.mark.parametrize(
    ("main", "name", "usage"),
    [
        (sync_models_main, "sync-models", "Usage: sync-models [OPTIONS] [GATEWAY]"),
        (model_sync_status_main, "model-sync-status", "Usage: model-sync-status [OPTIONS]"),
    ],
)
def test_front_end_scripts_show_the_usage_that_works(
    main: typer.Typer,
    name: str,
    usage: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``sync-models --help`` is the sync command's own usage (not ``sync-models sync``)."""
    monkeypatch.setattr(sys, "argv", [name, "--help"])
    with pytest.raises(SystemExit) as ended:
        main()  # type: ignore[operator]
    assert ended.value.code == 0
    text = capsys.readouterr().out
    assert usage.lower() in text.lower()
    assert f"{name} sync" not in text
    assert f"{name} status" not in text


def commands() -> list[list[str]]:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    found = [[]]
    for name, command in group.commands.items():
        if isinstance(command, typer.core.TyperGroup):
            found += [[name, sub] for sub in command.commands]
        found.append([name])
    return found


@pytest.mark.parametrize("command", commands(), ids=lambda words: " ".join(words) or "modelsync")
def test_help_has_no_restructuredtext(cli: CliRunner, command: list[str]) -> None:
    done = cli.invoke(app, [*command, "--help"])
    assert done.exit_code == 0, done.output
    for markup in ("``", ":class:", ":func:", ":meth:", ":mod:"):
        assert markup not in done.stdout, (command, done.stdout)


@pytest.mark.parametrize(
    ("args", "limit"),
    [
        (["changes", "--limit"], CHANGES_PAGE),
        (["changes", "--last"], CHANGES_PAGE),
        (["models", "--unmatched", "--limit"], UNMATCHED_PAGE),
    ],
)
def test_the_cli_takes_the_apis_limits(cli: CliRunner, args: list[str], limit: int) -> None:
    """What the API refuses with a 422 the CLI refuses before opening anything (exit 2)."""
    over = cli.invoke(app, [*args, str(limit + 1)])
    assert over.exit_code == 2, over.output
    assert cli.invoke(app, [*args, str(limit), "--json"]).exit_code == 0


def test_status_of_a_fresh_database_is_pending_in_seconds(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never synced: ``pending``, not ``ok``; a 20 s interval reads ``20s``, not ``0m``."""
    monkeypatch.setenv("MODELSYNC_SCHEDULER__INTERVALS_S", '{"high": 20, "medium": 90}')
    monkeypatch.setenv("MODELSYNC_UPSTREAM", "http://127.0.0.1:9")
    done = cli.invoke(app, ["status"])
    assert done.exit_code == 0, done.output
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[1:] if line}
    assert rows["groq"][1:3] == ["pending", "20s"]
    assert rows["google"][1:3] == ["pending", "1m30s"]


def test_every() -> None:
    assert [every(s) for s in (5, 45, 60, 90, 3600, 5400, 14400)] == [
        "5s", "45s", "1m", "1m30s", "1h", "1h30m", "4h",
    ]  # fmt: skip


def test_progress_on_a_terminal() -> None:
    """The spinner says how many gateways are done, and which was last."""
    progress = Progress(13)
    assert progress.text() == "syncing: 0 of 13 gateway(s) done…"
    progress.done("groq")
    assert progress.done("xai") == "syncing: 2 of 13 gateway(s) done (last: xai)…"
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    with console.status(progress.text()) as shown:
        shown.update(progress.done("fal"))
        console.print("a line")
    assert "a line" in screen.getvalue()
