"""The ``modelsync`` command and the front end's ``sync-models`` / ``model-sync-status``.

Nothing of the command line is imported until a command needs it: ``modelsync --help`` and
``modelsync --version`` are answered by :mod:`modelsync.cli.quick` alone, and ``modelsync status``
on a SQLite database at head by :mod:`modelsync.cli.quick_status` (issue 12 item 5); anything
they are not sure of goes to the typer app.
"""

from __future__ import annotations

import sys
from typing import Any

from modelsync.cli.quick import quick_answer

__all__ = ["app", "main", "model_sync_status_main", "sync_models_main"]


def main() -> None:
    """``modelsync``."""
    answer = quick_answer(sys.argv[1:])
    if answer is not None:
        sys.stdout.write(answer)
        return
    if sys.argv[1:2] == ["status"] and _quick_status(sys.argv[1:]):
        return
    from modelsync.cli.app import main as app_main

    app_main()


def sync_models_main() -> None:
    """``sync-models [GATEWAY]``: the front end's name for ``modelsync sync``."""
    from modelsync.cli.app import sync_models_main as run

    run()


def model_sync_status_main() -> None:
    """``model-sync-status``: the front end's name for ``modelsync status``."""
    if _quick_status(["status", *sys.argv[1:]]):
        return
    from modelsync.cli.app import model_sync_status_main as run

    run()


def _quick_status(args: list[str]) -> bool:
    from modelsync.cli.quick_status import run_quick_status

    return run_quick_status(args)


def __getattr__(name: str) -> Any:
    if name == "app":
        from modelsync.cli.app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
