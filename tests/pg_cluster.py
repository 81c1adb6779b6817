"""A PostgreSQL server of the test's own, which the test stops and starts to play an outage.

``initdb`` in a temporary folder, ``pg_ctl start`` on a free loopback port (trust auth, user
``postgres``, fsync off: it is thrown away; a commit still reaches the OS before it returns,
so stopping the server loses nothing committed). As root, the server runs as the ``postgres``
user (PostgreSQL refuses to run as root). Without the binaries the test skips (locally) or fails
(CI), like any other PostgreSQL test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import free_port, service_unavailable


class PostgresCluster:
    """One throw-away server: :meth:`start`, :meth:`stop`, and :attr:`url` of its database."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        """Readable by the ``postgres`` user (pytest's ``tmp_path`` is not, under root)."""
        self.data = folder / "data"
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout_s: float = 60) -> None:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout_s)

    def init(self) -> None:
        """Create the cluster (a few seconds)."""
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        """Start it and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off"
        )
        log = str(self.folder / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        """Stop it at once (``-m immediate``: clients are cut off, as in a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A started cluster in a fresh folder; stopped and deleted at the end, whatever the test
    left it in."""
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        service_unavailable("PostgreSQL binaries (initdb, pg_ctl)", FileNotFoundError("initdb"))
    folder = Path(tempfile.mkdtemp(prefix="modelsync-pg-"))
    cluster = PostgresCluster(folder)
    try:
        cluster.init()
        cluster.start()
    except (subprocess.SubprocessError, OSError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        service_unavailable("a PostgreSQL server of the test's own", exc)
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # the test may have stopped it
            cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
