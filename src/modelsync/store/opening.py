"""Opening a database, said to people: what is wrong with its path or server, in one line.

:func:`check_sqlite_path` refuses a SQLite file whose folder does not exist (it is never created
behind the user's back) or cannot be written. :func:`open_error` turns the driver's exception of a
failed open into a :class:`~modelsync.errors.StoreError` that names the cause and the fix, never
the driver's text; :class:`DatabaseUnreachable` marks the one cause worth waiting for (nothing
answers yet), which :func:`open_waiting` retries with back-off for a configured time.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog
from sqlalchemy.engine import URL

from modelsync.errors import StoreError

log = structlog.get_logger("modelsync.store")

FIX_URL = "or fix MODELSYNC_DATABASE_URL"


class DatabaseUnreachable(StoreError):
    """No database server answered (refused, timed out, starting up): worth waiting for."""


def where(url: URL) -> str:
    """``host:port/database`` of a server URL, the file of a SQLite one (never the password)."""
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


def check_sqlite_path(url: URL) -> None:
    """Refuse a SQLite file whose folder is missing or which cannot be written, saying which."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return
    if database.startswith("file:"):
        return
    path = Path(database)
    folder = path.parent
    if not folder.is_dir():
        raise StoreError(
            f"the folder {str(folder.resolve())!r} of the SQLite database does not exist: "
            f"create it (mkdir -p {folder}) {FIX_URL}"
        )
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(
            f"the SQLite database {str(path.resolve())!r} is read-only for this user: "
            f"make it writable {FIX_URL}"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreError(
            f"the folder {str(folder.resolve())!r} of the SQLite database is read-only for this "
            f"user (SQLite writes its journal beside the file): choose a writable folder {FIX_URL}"
        )


def _causes(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found:
        found.append(current)
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return found


def open_error(url: URL, exc: BaseException) -> StoreError:  # noqa: PLR0911 - one per cause
    """The one-line error of a failed open of ``url``; its cause stays chained (for ``--debug``)."""
    at = where(url)
    names = {type(cause).__name__ for cause in _causes(exc)}
    text = " ".join(str(cause) for cause in _causes(exc)).lower()
    if url.get_backend_name() == "sqlite":
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            try:
                check_sqlite_path(url)
            except StoreError as refused:
                return refused
            return StoreError(f"cannot open the SQLite database {at!r}: check its path {FIX_URL}")
        if "not a database" in text or "malformed" in text:
            return StoreError(f"{at!r} is not a SQLite database (or is damaged) {FIX_URL}")
        return StoreError(f"cannot open the SQLite database {at!r} ({next(iter(names))}) {FIX_URL}")
    if "InvalidCatalogNameError" in names:
        return StoreError(
            f"the PostgreSQL database {url.database!r} does not exist on {url.host}:"
            f"{url.port or 5432}: create it (createdb {url.database}) {FIX_URL}"
        )
    if names & {"InvalidPasswordError", "InvalidAuthorizationSpecificationError"}:
        return StoreError(
            f"PostgreSQL at {at} refused user {url.username!r}: check the user and password "
            f"{FIX_URL}"
        )
    if names & {
        "ConnectionRefusedError",
        "ConnectionResetError",
        "CannotConnectNowError",
        "TimeoutError",
        "ConnectionDoesNotExistError",
        "gaierror",
    } or isinstance(exc, OSError):
        return DatabaseUnreachable(f"no PostgreSQL answers at {at}: start it {FIX_URL}")
    return StoreError(f"cannot open the PostgreSQL database {at} ({sorted(names)[0]}) {FIX_URL}")


async def open_waiting(
    attempt: Callable[[], Awaitable[None]],
    *,
    wait_s: float,
    what: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """``attempt()`` until it succeeds; while it raises :class:`DatabaseUnreachable`, again after
    a doubling pause (0.5 s up to 5 s) until ``wait_s`` has passed, one log line per attempt."""
    deadline = monotonic() + wait_s
    delay = 0.5
    number = 1
    while True:
        try:
            await attempt()
        except DatabaseUnreachable as exc:
            left = deadline - monotonic()
            if left <= 0:
                raise DatabaseUnreachable(
                    f"{exc} (gave up after {number} attempts in {wait_s:g} s; "
                    "MODELSYNC_DATABASE_WAIT_S sets how long to wait)"
                ) from exc
            pause = min(delay, left)
            log.warning(
                "database.unreachable", database=what, attempt=number, retry_in_s=round(pause, 2)
            )
            await sleep(pause)
            delay = min(delay * 2, 5.0)
            number += 1
        else:
            if number > 1:
                log.info("database.reachable", database=what, attempts=number)
            return
