"""A throwaway PostgreSQL cluster a test can stop and start: an outage on demand.

``initdb`` in a temporary folder, ``pg_ctl`` on a free port (trust auth, socket in the folder).
Run as root, the server runs as the ``postgres`` user (``runuser``), which it insists on. When
the binaries are missing the test skips (locally) or fails (CI), like every PostgreSQL test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from conftest import free_port, service_unavailable

TIMEOUT_S = 60


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for root in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (root / name).exists():
            return str(root / name)
    return None


@dataclass
class Cluster:
    """A running (or stopped) cluster in ``folder`` on ``port``."""

    folder: Path
    port: int
    as_user: list[str]

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of its ``postgres`` database."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        pg_ctl = _binary("pg_ctl")
        assert pg_ctl is not None
        subprocess.run(
            [*self.as_user, pg_ctl, "-D", str(self.folder / "data"), "-w", *args],
            check=True,
            capture_output=True,
            timeout=TIMEOUT_S,
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-o", options, "-l", str(self.folder / "server.log"), "start")

    def stop(self) -> None:
        """Stop it at once (``immediate``: what a crash or a lost host looks like to clients)."""
        self._pg_ctl("-m", "immediate", "stop")


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """A fresh cluster in a folder of its own (under the system's temporary folder, which the
    ``postgres`` user can reach), started; stopped and removed afterwards."""
    initdb = _binary("initdb")
    if initdb is None or _binary("pg_ctl") is None:
        service_unavailable("PostgreSQL binaries (initdb, pg_ctl)", FileNotFoundError("initdb"))
    assert initdb is not None
    folder = Path(tempfile.mkdtemp(prefix="modelsync-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    try:
        subprocess.run(
            [*as_user, initdb, "-D", str(folder / "data"), "-A", "trust", "-U", "postgres"],
            check=True,
            capture_output=True,
            timeout=TIMEOUT_S,
        )
        cluster = Cluster(folder, free_port(), as_user)
        cluster.start()
        try:
            yield cluster
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
                cluster.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
