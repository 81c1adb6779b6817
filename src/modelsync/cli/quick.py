"""Answers the command line gives without importing the service: ``--help`` and ``--version``.

``modelsync --help`` and ``modelsync --version`` are asked far more often than they change, and
the service's imports (typer and rich, pydantic, SQLAlchemy, httpx) cost ten to twenty times a
bare interpreter start. So ``modelsync`` answers these two from here (this module imports nothing
of the service): the version from the package, the help from ``help.txt``, which is the typer
app's own help rendered at 80 columns (:func:`write_help` writes it again, and
``tests/cli/test_quick_start.py`` fails while it differs from what the app renders).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from modelsync import __version__

HELP_FILE = Path(__file__).with_name("help.txt")


def version_line() -> str:
    return f"modelsync {__version__}\n"


def quick_answer(args: Sequence[str]) -> str | None:
    """The output for these arguments when no import of the service is needed, else None."""
    if list(args) == ["--version"]:
        return version_line()
    if list(args) == ["--help"] and HELP_FILE.is_file():
        return HELP_FILE.read_text(encoding="utf-8")
    return None


def rendered_help() -> str:
    """The typer app's ``--help``, as a pipe at 80 columns gets it (the slow path)."""
    from typer.testing import CliRunner

    from modelsync.cli.app import app

    result = CliRunner().invoke(
        app, ["--help"], prog_name="modelsync", env={"COLUMNS": "80", "NO_COLOR": "1"}
    )
    return result.output


def write_help() -> None:
    """Write ``help.txt`` again, after a command or an option changed."""
    HELP_FILE.write_text(rendered_help(), encoding="utf-8")
