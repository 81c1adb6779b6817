"""Quick start (issue 12 item 5): ``modelsync --help`` and ``--version`` import nothing of the
service, and the help they print is the app's own."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from modelsync import __version__
from modelsync.cli.app import app
from modelsync.cli.quick import HELP_FILE, quick_answer, rendered_help

BIN = Path(sys.executable).parent
HEAVY = ("sqlalchemy", "fastapi", "httpx", "pydantic", "typer", "rich", "asyncpg", "uvicorn")

IMPORTS_AFTER_HELP = """
import sys
from modelsync.cli import main
flag, watched = sys.argv[1], set(sys.argv[2].split(","))
sys.argv = ["modelsync", flag]
main()
heavy = sorted({name.split(".")[0] for name in sys.modules} & watched)
print("heavy:", ",".join(heavy))
"""


def test_the_help_file_is_what_the_app_renders() -> None:
    assert HELP_FILE.read_text(encoding="utf-8") == rendered_help(), (
        "a command or option changed: write the quick help again with "
        "python -c 'from modelsync.cli.quick import write_help; write_help()'"
    )


def test_version_is_the_packages_on_both_paths() -> None:
    assert quick_answer(["--version"]) == f"modelsync {__version__}\n"
    result = CliRunner().invoke(app, ["--version"], prog_name="modelsync")
    assert result.exit_code == 0
    assert result.output == f"modelsync {__version__}\n"


def test_only_the_bare_flags_take_the_quick_path() -> None:
    assert quick_answer(["--help"]) == HELP_FILE.read_text(encoding="utf-8")
    for args in ([], ["status"], ["status", "--help"], ["--version", "status"], ["--json"]):
        assert quick_answer(args) is None, args


def test_help_and_version_import_nothing_of_the_service() -> None:
    for flag in ("--help", "--version"):
        done = subprocess.run(
            [sys.executable, "-c", IMPORTS_AFTER_HELP, flag, ",".join(HEAVY)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert done.stdout.splitlines()[-1].strip() == "heavy:", done.stdout
        first = done.stdout.splitlines()[0]
        assert first.startswith("modelsync ") if flag == "--version" else "Usage:" in done.stdout


def fastest(args: list[str], runs: int = 5) -> float:
    best = float("inf")
    env = dict(os.environ, COLUMNS="80")
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(args, capture_output=True, timeout=60, check=True, env=env)
        best = min(best, time.perf_counter() - began)
    return best


def test_help_costs_little_more_than_starting_python() -> None:
    """The target is under 8x ``python3 -c pass`` (benchmarks/bench_startup.py); measured ~1.5x.
    Interleaved fastest-of-five runs, so the machine's load weighs on both alike."""
    bare = fastest([sys.executable, "-c", "pass"])
    help_ = fastest([str(BIN / "modelsync"), "--help"])
    version = fastest([str(BIN / "modelsync"), "--version"])
    assert help_ < 8 * bare, (help_, bare)
    assert version < 8 * bare, (version, bare)
