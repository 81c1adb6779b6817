"""The command line: a thin shell that parses, builds Settings and calls what the service calls.

Rich output for people; ``--json`` prints one JSON object for machines. Exit codes: 0 success,
1 a requested gateway failed or was rejected (or the database failed), 2 bad usage (an unknown
gateway, bad settings, a busy port). Every error modelsync raises on purpose is one line on
stderr (what, where, how to fix); ``--debug`` prints its traceback too.
"""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from modelsync.cli.quick import version_line
from modelsync.cli.status_view import emit_json, show_status
from modelsync.config import Settings, load_settings, resolve_gateways, selected_gateways
from modelsync.errors import ConfigError, ModelsyncError
from modelsync.limits import CHANGES_PAGE, MODELS_PAGE, UNMATCHED_PAGE
from modelsync.observability import configure_logging

T = TypeVar("T")

DEBUG = {"on": False}
"""Set by ``--debug``: errors print their traceback before their one line."""


def fail(exc: ModelsyncError) -> typer.Exit:
    """Print ``exc`` as one line on stderr (its traceback first under ``--debug``); the exit to
    raise: 2 for settings and usage, 1 for anything else."""
    if DEBUG["on"]:
        traceback.print_exception(exc)
    message = " ".join(str(exc).split())
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    return typer.Exit(2 if isinstance(exc, ConfigError) else 1)


class _Commands(typer.core.TyperGroup):
    """Every command's ModelsyncError becomes :func:`fail`'s one line and exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ModelsyncError as exc:
            raise fail(exc) from None


app = typer.Typer(
    name="modelsync",
    help="Keep a catalog of AI models current across inference gateways.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=_Commands,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(version_line())
        raise typer.Exit


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Print the traceback of an error, not only its line.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Keep a catalog of AI models current across inference gateways."""
    DEBUG["on"] = debug


app.add_typer(db_app, name="db")
config_app = typer.Typer(help="The configuration: check it before you serve.", no_args_is_help=True)
app.add_typer(config_app, name="config")

out = Console()
err = Console(stderr=True)


JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
RemoteOption = Annotated[
    str | None,
    typer.Option(
        "--remote",
        metavar="URL",
        help="Ask a running server instead (admin token from MODELSYNC_ADMIN_TOKEN).",
    ),
]


def _settings(**overrides: Any) -> Settings:
    """Settings for a command; its own output is the report, so logs default to warnings."""
    settings = load_settings(**overrides)
    configure_logging(settings.log_level or _quiet_level())
    return settings


def _quiet_level() -> str:
    """A command's log level unless MODELSYNC_LOG_LEVEL says: warnings on a terminal; piped,
    only errors, so the output is the report alone (every run's error is in it anyway)."""
    return "WARNING" if sys.stderr.isatty() else "ERROR"


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine (its ModelsyncError is one line: see :class:`_Commands`)."""
    return asyncio.run(coro)


def _guard(action: Callable[[], T]) -> T:
    """Run ``action`` (its ModelsyncError is one line: see :class:`_Commands`)."""
    return action()


def _admin_token(settings: Settings) -> str | None:
    return settings.admin_token.get_secret_value() if settings.admin_token else None


def _selected(settings: Settings, gateway: str) -> list[str]:
    return selected_gateways(resolve_gateways(settings), gateway)


@app.command()
def sync(
    gateway: Annotated[str, typer.Argument(help="A gateway name, or 'all'.")] = "all",
    json: JsonOption = False,
    full: Annotated[
        bool, typer.Option("--full", help="Ignore ETag and body hash: fetch and diff everything.")
    ] = False,
    remote: RemoteOption = None,
) -> None:
    """Sync gateways now (in this process, or on a server) and show what changed."""
    from modelsync.cli.sync import SyncReport, run_remote_sync, run_sync

    settings = _settings()
    report: SyncReport
    if remote:
        report = _guard(lambda: run_remote_sync(settings, remote, gateway, json_output=json))
    else:
        names = _guard(lambda: _selected(settings, gateway))
        report = _run(run_sync(settings, names, full=full, console=None if json else out))
    if json:
        emit_json(report.to_json())
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def status(
    gateway: Annotated[str | None, typer.Argument(help="One gateway (default: all).")] = None,
    json: JsonOption = False,
    remote: RemoteOption = None,
) -> None:
    """Show every gateway's health, schedule and last outcome."""
    from modelsync.cli.views import read_processes, read_status

    settings = _settings()
    processes = None
    if remote:
        from modelsync.cli.remote import remote_status

        token = _admin_token(settings)
        rows, processes = _guard(lambda: remote_status(remote, token, gateway))
    else:
        names = _guard(lambda: _selected(settings, gateway) if gateway else None)
        rows = _run(read_status(settings, names))
        processes = _run(read_processes(settings))
    show_status(rows, processes, json=json, console=out)


KINDS = ("added", "updated", "removed", "restored", "quarantined")


@app.command()
def changes(
    *,
    last: Annotated[
        int | None,
        typer.Option(min=1, max=CHANGES_PAGE, help="The newest N changes, newest first."),
    ] = None,
    since: Annotated[
        int | None, typer.Option(min=0, help="Only changes after this seq (the cursor).")
    ] = None,
    run: Annotated[int | None, typer.Option(min=1, help="Only the changes of this run.")] = None,
    gateway: Annotated[str | None, typer.Option(help="Only this gateway.")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model (canonical id).")] = None,
    kind: Annotated[
        str | None, typer.Option(help="Only this kind: added, updated, removed or restored.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=CHANGES_PAGE, help="At most this many.")] = 100,
    json: JsonOption = False,
    remote: RemoteOption = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="Keep printing each change as it is committed (one line each) until Ctrl-C.",
        ),
    ] = False,
) -> None:
    """Show what changed: the newest (--last N), after a cursor (--since) or one run's (--run)."""
    from modelsync.cli.views import read_changes, render_changes
    from modelsync.store.base import ChangeSelection

    if kind is not None and kind not in KINDS:
        raise ConfigError(f"--kind {kind!r} is not a kind of change; use one of {', '.join(KINDS)}")
    settings = _settings()
    if follow:
        name = _guard(lambda: _selected(settings, gateway)[0]) if gateway else None
        _follow(settings, remote, since=since, gateway=name, json_output=json)
        return
    select_by = ChangeSelection(run_id=run, kind=kind, newest_first=last is not None)
    count = last if last is not None else limit
    if remote:
        from modelsync.cli.remote import remote_get

        params = {
            "since": since,
            "gateway": gateway,
            "model": model,
            "run": run,
            "kind": kind,
            "order": "newest" if last is not None else "oldest",
            "limit": count,
        }
        wanted = {key: value for key, value in params.items() if value is not None}
        page = remote_get(remote, _admin_token(settings), "/api/changes", wanted)
    else:
        name = _selected(settings, gateway)[0] if gateway else None
        page = _run(
            read_changes(
                settings, since=since, gateway=name, model=model, limit=count, select_by=select_by
            )
        )
    if json:
        emit_json(page)
    else:
        render_changes(out, page)


def _follow(
    settings: Settings,
    remote: str | None,
    *,
    since: int | None,
    gateway: str | None,
    json_output: bool,
) -> None:
    """``changes --follow``: lines until Ctrl-C (exit 0), a one-line error otherwise."""
    from modelsync.cli.follow import emitter, follow_local, follow_remote

    def write(line: str) -> None:
        sys.stdout.write(line)
        sys.stdout.flush()

    emit = emitter(json_output, write)
    try:
        if remote:
            token = _admin_token(settings)
            _guard(
                lambda: follow_remote(remote, token, emit, since=since, gateway=gateway, model=None)
            )
        else:
            _run(follow_local(settings, emit, since=since, gateway=gateway))
    except KeyboardInterrupt:
        return


@app.command()
def invalidate(
    *,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="A cache tag (repeat for more).")
    ] = None,
    path: Annotated[
        list[str] | None, typer.Option("--path", help="A page path (repeat for more).")
    ] = None,
    type_: Annotated[
        str | None,
        typer.Option(
            "--type", help="models, model-detail, rankings, search or all (the front end's form)."
        ),
    ] = None,
    gateway: Annotated[str | None, typer.Option(help="With --type: one gateway.")] = None,
    model_id: Annotated[
        str | None, typer.Option("--model-id", help="With --type model-detail: the model.")
    ] = None,
    json: JsonOption = False,
    remote: RemoteOption = None,
) -> None:
    """Invalidate cache tags and paths (the response cache, and the purgers); says what it did."""
    from modelsync.cli.invalidate import (
        invalidate_here,
        invalidate_remote,
        invalidate_request,
        render_invalidation,
    )

    settings = _settings()
    request = _guard(
        lambda: invalidate_request(
            tags=tag or [], paths=path or [], type_=type_, gateway=gateway, model_id=model_id
        )
    )
    if remote:
        token = _admin_token(settings)
        answer = _guard(lambda: invalidate_remote(remote, token, request))
    else:
        answer = _run(invalidate_here(settings, request))
    if json:
        emit_json(answer)
    else:
        render_invalidation(out, answer)


@app.command()
def models(
    *,
    gateway: Annotated[str | None, typer.Option(help="Only this gateway.")] = None,
    unmatched: Annotated[
        bool,
        typer.Option(
            "--unmatched",
            help="Only models offered by exactly one gateway, with the nearest candidates "
            "on the others: what canonical identity could not join.",
        ),
    ] = False,
    limit: Annotated[
        int,
        typer.Option(
            min=1,
            max=MODELS_PAGE,
            help=f"At most this many ({UNMATCHED_PAGE} at most with --unmatched).",
        ),
    ] = 100,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many first.")] = 0,
    json: JsonOption = False,
    remote: RemoteOption = None,
) -> None:
    """Show the catalog (prices in USD per 1M tokens), or what identity could not join."""
    if unmatched and limit > UNMATCHED_PAGE:
        raise ConfigError(f"--limit is at most {UNMATCHED_PAGE} with --unmatched (got {limit})")
    from modelsync.cli.models import read_models, remote_models, render_models, render_unmatched

    settings = _settings()
    name = _guard(lambda: _selected(settings, gateway)[0]) if gateway else None
    if remote:
        token = _admin_token(settings)
        page = _guard(
            lambda: remote_models(
                remote, token, gateway=name, unmatched=unmatched, limit=limit, offset=offset
            )
        )
    else:
        page = _run(
            read_models(settings, gateway=name, unmatched=unmatched, limit=limit, offset=offset)
        )
    if json:
        emit_json(page)
    elif unmatched:
        render_unmatched(out, page)
    else:
        render_models(out, page)


@app.command()
def simulate(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8900,
    fixtures: Annotated[
        str | None, typer.Option(help="The recorded fixtures folder (default: found nearby).")
    ] = None,
    script: Annotated[
        str | None, typer.Option(help="A JSON file of timed mutations to play.")
    ] = None,
    demo: Annotated[bool, typer.Option(help="Play the endless demo mutations.")] = False,
) -> None:
    """Serve a fake of every gateway (for the demo, tests and benchmarks)."""
    from modelsync.simulator import serve_simulator

    configure_logging(load_settings().log_level or "INFO")
    serve_simulator(
        host,
        port,
        fixtures_dir=Path(fixtures) if fixtures else None,
        script=Path(script) if script else None,
        demo=demo,
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool,
        typer.Option(help="Run the gateway simulator beside the service, with short intervals."),
    ] = False,
    simulator_port: Annotated[int, typer.Option(help="The demo simulator's port.")] = 8900,
) -> None:
    """Run the service: the API, webhooks and the scheduler."""
    from modelsync.web.serve import serve as serve_service
    from modelsync.web.serve import serve_demo

    if demo:
        database_url = os.environ.get("MODELSYNC_DATABASE_URL")
        serve_demo(host, port, simulator_port, database_url=database_url)
    else:
        serve_service(host, port)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the latest schema."""
    from modelsync.store.migrate import current, upgrade

    settings = _settings()
    _run(upgrade(settings.database_url))
    revision = _run(current(settings.database_url))
    out.print(f"database at revision [bold]{revision}[/]")


@config_app.command("check")
def config_check(json: JsonOption = False) -> None:
    """Validate the configuration; print the gateways, tiers and intervals it resolves to."""
    from modelsync.cli.config_check import render_config, resolved_config

    settings = _settings()
    report = resolved_config(settings)
    if json:
        emit_json(report)
    else:
        render_config(out, report)


def _console_script(command: str, name: str) -> Callable[[], None]:
    """A console script that is one command: its usage and help are that command's."""

    def main() -> None:
        group = typer.main.get_command(app)
        assert isinstance(group, typer.core.TyperGroup)
        one = group.commands[command]
        try:
            one.main(args=sys.argv[1:], prog_name=name, standalone_mode=True)
        except ModelsyncError as exc:
            sys.exit(fail(exc).exit_code)

    return main


def main() -> None:
    """``modelsync``."""
    app()


sync_models_main = _console_script("sync", "sync-models")
"""``sync-models [GATEWAY]``: the front end's name for ``modelsync sync``."""

model_sync_status_main = _console_script("status", "model-sync-status")
"""``model-sync-status``: the front end's name for ``modelsync status``."""
