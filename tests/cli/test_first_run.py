"""A new user's typical mistakes, on real files, ports and databases.

Each mistake (a bad configuration file or value, a database that is missing, never upgraded,
unwritable or down, a busy port) is one line on stderr that names the cause and the fix, a
non-zero exit, no traceback (but under ``--debug``) and nothing created or changed. ``serve``
runs as the installed ``modelsync`` in a subprocess; configuration mistakes, which every command
meets the same way, run in process through Typer's runner (a subprocess costs seconds here).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from conftest import POSTGRES_URL, free_port
from modelsync.cli.app import app
from modelsync.gateways.registry import BUILTIN
from store.conftest import private_database

pytestmark = pytest.mark.timeout(120)
"""Each test runs the installed commands as processes, several of them, and each process
starts in seconds on a loaded machine: the default 60 s is too short for their sum."""


BIN = Path(sys.executable).parent
KEY_VARIABLES = {spec.key_env for spec in BUILTIN if spec.key_env}
TIMEOUT_S = 45


@dataclass(frozen=True, slots=True)
class Done:
    code: int
    out: str
    err: str

    @property
    def said(self) -> list[str]:
        """Stderr's lines that are not JSON log lines."""
        return [line for line in self.err.splitlines() if not line.startswith("{")]

    @property
    def logged(self) -> list[dict[str, object]]:
        """Stderr's JSON log lines."""
        return [json.loads(line) for line in self.err.splitlines() if line.startswith("{")]

    def one_error(self) -> str:
        """The one line a failed command says (and it failed, with no traceback)."""
        assert self.code != 0, self
        assert "Traceback" not in self.err, self.err
        assert len(self.said) == 1, self.err
        assert self.said[0].startswith("error: "), self.err
        return self.said[0]


def environment(**values: str) -> dict[str, str]:
    """This process's environment without modelsync settings or keys, plus ``values``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("MODELSYNC_") and name not in KEY_VARIABLES
    }
    return env | {"NO_COLOR": "1", "COLUMNS": "200", "MODELSYNC_DATABASE_WAIT_S": "0"} | values


def run(cwd: Path, *args: str, **env: str) -> Done:
    """``modelsync args...`` in ``cwd`` to completion."""
    done = subprocess.run(
        [BIN / "modelsync", *args],
        cwd=cwd,
        env=environment(**env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    return Done(done.returncode, done.stdout, done.stderr)


# -- configuration ---------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """Typer's runner in ``tmp_path``, on the environment :func:`environment` gives; the logging
    a command configured is put back afterwards."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("MODELSYNC_") or name in KEY_VARIABLES:
            monkeypatch.delenv(name)
    saved, handlers = structlog.get_config(), logging.root.handlers[:]
    yield CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200"})
    structlog.configure(**saved)
    logging.root.handlers[:] = handlers


def invoke(cli: CliRunner, *args: str, **env: str) -> Done:
    """``modelsync args...`` in process."""
    result = cli.invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Done(result.exit_code, result.stdout, result.stderr)


CONFIG_MISTAKES = {
    "malformed": ("[gateways.groq\n", ["not valid TOML", "line 1"]),
    "not-a-number": ('[gateways.groq]\ninterval_s = "ten"\n', ["gateways.groq.interval_s"]),
    "table-typo": (
        "[gateway.groq]\ninterval_s = 600\n",
        ["unknown key 'gateway'", "did you mean 'gateways'", "allowed:"],
    ),
    "key-typo": (
        "[gateways.groq]\ninterval_sec = 600\n",
        ["unknown key 'gateways.groq.interval_sec'", "'interval_s'", "allowed: adapter"],
    ),
    "unknown-adapter": (
        '[gateways.mine]\nadapter = "openai_compatible"\nbase_url = "http://x/v1/models"\n',
        ["gateways.mine.adapter", "unknown adapter 'openai_compatible'", "openai_compat"],
    ),
}


@pytest.mark.parametrize("mistake", list(CONFIG_MISTAKES))
@pytest.mark.parametrize("command", [["status"], ["config", "check"]])
def test_a_configuration_mistake_is_one_line(
    cli: CliRunner, tmp_path: Path, mistake: str, command: list[str]
) -> None:
    """A malformed file, a bad value, a typo'd table or key, an unknown adapter: refused when
    the configuration loads, in one line naming the file, the key and what is allowed."""
    text, expected = CONFIG_MISTAKES[mistake]
    config = tmp_path / "modelsync.toml"
    config.write_text(text)
    done = invoke(cli, *command, MODELSYNC_CONFIG_FILE=str(config))
    line = done.one_error()
    assert done.code == 2
    assert str(config) in line
    for words in expected:
        assert words in line, line
    assert not list(tmp_path.glob("*.db"))  # nothing was created


def test_a_missing_configuration_file_is_one_line(cli: CliRunner, tmp_path: Path) -> None:
    done = invoke(cli, "status", MODELSYNC_CONFIG_FILE=str(tmp_path / "nope.toml"))
    line = done.one_error()
    assert "MODELSYNC_CONFIG_FILE" in line
    assert "nope.toml" in line
    assert "which is not a file" in line


def test_a_bad_environment_value_names_the_variable(cli: CliRunner) -> None:
    line = invoke(cli, "config", "check", MODELSYNC_HTTP__ATTEMPTS="many").one_error()
    assert line.startswith("error: MODELSYNC_HTTP__ATTEMPTS: Input should be a valid integer")
    assert "many" not in line  # the value is not echoed


def test_debug_prints_the_traceback_too(tmp_path: Path) -> None:
    config = tmp_path / "modelsync.toml"
    config.write_text("[gateway.groq]\n")
    done = run(tmp_path, "--debug", "status", MODELSYNC_CONFIG_FILE=str(config))
    assert done.code == 2
    assert "Traceback (most recent call last)" in done.err
    assert done.err.rstrip().splitlines()[-1].startswith("error: ")


def test_config_check_prints_what_resolves_with_secrets_masked(
    cli: CliRunner, tmp_path: Path
) -> None:
    """Gateways, tiers and intervals as resolved; a secret shows only its last four characters."""
    config = tmp_path / "modelsync.toml"
    config.write_text(
        "[gateways.groq]\ninterval_s = 600\n\n[scheduler.intervals_s]\nlow = 45\n\n"
        '[gateways.mine]\nadapter = "openai_compat"\nbase_url = "https://llm.example/v1/models"\n'
        'key_env = "MINE_KEY"\n'
    )
    secret = "gsk_0123456789secretABCD"
    done = invoke(
        cli,
        "config",
        "check",
        MODELSYNC_CONFIG_FILE=str(config),
        MODELSYNC_ADMIN_TOKEN="admin-token-0123456789-WXYZ",
        GROQ_API_KEY=secret,
        MODELSYNC_DATABASE_URL="postgresql+asyncpg://me:hunter22@db.example/catalog",
    )
    assert done.code == 0, done
    assert secret not in done.out
    assert "hunter22" not in done.out
    assert "admin-token" not in done.out
    lines = {line.split()[0]: line for line in done.out.splitlines() if line.startswith("  ")}
    assert "every 10m" in lines["groq"]
    assert "GROQ_API_KEY: set (…ABCD)" in lines["groq"]
    assert "every 45s" in lines["mine"]  # a configured gateway is low tier
    assert "https://llm.example/v1/models" in lines["mine"]
    assert "low every 45s" in done.out
    assert "admin token:    set (…WXYZ)" in done.out
    report = json.loads(invoke(cli, "config", "check", "--json", GROQ_API_KEY=secret).out)
    assert report["gateways"][1]["key"] == "set (…ABCD)"
    assert secret not in json.dumps(report)
    assert not list(tmp_path.glob("*.db"))


# -- serve's start-up ------------------------------------------------------------------------


def serve(cwd: Path, *args: str, **env: str) -> Done:
    """``modelsync serve`` on a free port, expected to fail at start."""
    return run(cwd, "serve", "--port", str(free_port()), *args, **env)


def test_serve_with_a_garbage_database_url(tmp_path: Path) -> None:
    line = serve(tmp_path, MODELSYNC_DATABASE_URL="not a url at all").one_error()
    assert line == "error: not a database URL: 'not a url at all'"


def test_serve_in_a_folder_that_does_not_exist(tmp_path: Path) -> None:
    """The folder is not created behind the user's back: the line says to create it."""
    url = f"sqlite+aiosqlite:///{tmp_path}/data/modelsync.db"
    line = serve(tmp_path, MODELSYNC_DATABASE_URL=url).one_error()
    assert f"the folder '{tmp_path}/data' of the SQLite database does not exist" in line
    assert "mkdir -p" in line
    assert not (tmp_path / "data").exists()


@pytest.fixture
def unwritable(tmp_path: Path) -> Iterator[Path]:
    """A folder the command cannot write: one without write permission, or (as root, whom
    permissions do not stop) a read-only file system's (``/proc/sys``)."""
    if os.geteuid() == 0:
        if os.access("/proc/sys", os.W_OK):
            pytest.skip("running as root and /proc/sys is writable: no read-only folder here")
        yield Path("/proc/sys")
        return
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        yield locked
    finally:
        locked.chmod(0o755)


def test_serve_in_a_read_only_folder(tmp_path: Path, unwritable: Path) -> None:
    url = f"sqlite+aiosqlite:///{unwritable}/modelsync.db"
    line = serve(tmp_path, MODELSYNC_DATABASE_URL=url).one_error()
    assert f"the folder '{unwritable}' of the SQLite database is read-only for this user" in line
    assert "unable to open database file" not in line


@pytest.mark.postgres
def test_serve_on_a_postgresql_database_that_does_not_exist(tmp_path: Path) -> None:
    url = make_url(POSTGRES_URL).set(database="modelsync_never_created_x9")
    done = serve(tmp_path, MODELSYNC_DATABASE_URL=url.render_as_string(hide_password=False))
    line = done.one_error()
    assert "the PostgreSQL database 'modelsync_never_created_x9' does not exist" in line
    assert "createdb modelsync_never_created_x9" in line


@pytest.mark.postgres
def test_serve_on_a_database_never_upgraded(tmp_path: Path) -> None:
    with private_database("postgresql", tmp_path, migrated=False) as url:
        line = serve(tmp_path, MODELSYNC_DATABASE_URL=url).one_error()
    assert "run `modelsync db upgrade` first" in line


def test_serve_on_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run(tmp_path, "serve", "--port", str(port))
    line = done.one_error()
    assert done.code == 2
    assert line == (
        f"error: the service: port {port} on 127.0.0.1 is already in use: stop what listens "
        "there or choose another with --port"
    )
    assert not list(tmp_path.glob("*.db"))


def test_demo_with_the_simulator_port_taken_prints_no_banner(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run(
            tmp_path, "serve", "--demo", "--port", str(free_port()), "--simulator-port", str(port)
        )
    line = done.one_error()
    assert f"the demo's simulator: port {port} on 127.0.0.1 is already in use" in line
    assert "--simulator-port" in line
    assert "modelsync demo" not in done.err + done.out
    assert not list(tmp_path.glob("*.db"))


# -- a database that is down at start --------------------------------------------------------


def test_a_database_that_stays_down_is_retried_then_one_line(tmp_path: Path) -> None:
    """Nothing answers: a log line per attempt, with back-off, for the configured time."""
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/modelsync"
    started = time.monotonic()
    done = serve(tmp_path, MODELSYNC_DATABASE_URL=url, MODELSYNC_DATABASE_WAIT_S="2")
    took = time.monotonic() - started
    line = done.one_error()
    assert "no PostgreSQL answers at 127.0.0.1:" in line
    assert "MODELSYNC_DATABASE_WAIT_S" in line
    attempts = [entry for entry in done.logged if entry["event"] == "database.unreachable"]
    assert len(attempts) >= 2
    assert [entry["attempt"] for entry in attempts] == list(range(1, len(attempts) + 1))
    assert took >= 2.0


class LateProxy:
    """A TCP forwarder to PostgreSQL that listens only once :meth:`open` is called."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.port = free_port()
        self._target = target
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def open(self) -> None:
        self._thread.start()

    def __enter__(self) -> LateProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _serve(self) -> None:
        with socket.create_server(("127.0.0.1", self.port)) as server:
            server.settimeout(0.1)
            while not self._stop.is_set():
                try:
                    client, _ = server.accept()
                except TimeoutError:
                    continue
                upstream = socket.create_connection(self._target, timeout=5)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with source, sink:
            source.settimeout(None)
            try:
                while data := source.recv(65536):
                    sink.sendall(data)
            except OSError:
                pass
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


@pytest.mark.postgres
def test_a_database_that_comes_up_during_the_wait(tmp_path: Path) -> None:
    """PostgreSQL answers only after ``serve``'s first attempt failed: retried, then served."""
    target = make_url(POSTGRES_URL)
    with (
        private_database("postgresql", tmp_path) as url,
        LateProxy((target.host or "127.0.0.1", target.port or 5432)) as proxy,
    ):
        proxied = make_url(url).set(port=proxy.port).render_as_string(hide_password=False)
        port = free_port()
        process = subprocess.Popen(
            [BIN / "modelsync", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=environment(MODELSYNC_DATABASE_URL=proxied, MODELSYNC_DATABASE_WAIT_S="30"),
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stderr is not None
            lines = []
            for line in process.stderr:
                lines.append(line)
                if '"database.unreachable"' in line and '"attempt": 1,' in line:
                    proxy.open()
                if "listening on" in line:
                    break
            assert f"modelsync serve: listening on http://127.0.0.1:{port}\n" in lines, lines
            attempts = [line for line in lines if '"database.unreachable"' in line]
            assert attempts, lines
            assert any('"database.reachable"' in line for line in lines)
        finally:
            process.terminate()
            process.communicate(timeout=20)
