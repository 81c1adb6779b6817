"""Keeping a run's CPU-heavy work off the serving event loop (issue 12, item 3).

A run's CPU work (decoding the pages, checking and normalizing entries, the diff, the plan, the
memo it leaves) would stall every read and webhook of a ``serve`` process for seconds on a big
gateway. :class:`Offload` moves it:

* **Python work** (normalize, diff, plan, remember) runs in a worker thread
  (:meth:`Offload.call`). Pure-Python code gives up the GIL every ``sys.getswitchinterval()``
  (5 ms), so the loop keeps answering while it runs.
* **Decoding a big body** cannot go to a thread: ``orjson.loads`` of a 30 MB page is one C call
  that holds the GIL for its whole second. A body over ``split_bytes`` is sent to a worker
  process (spawned once, on first need), which decodes it and hands back the document cut into
  pieces: the skeleton, and its biggest container re-encoded in slices of ``SLICE_ITEMS`` items
  (:func:`split_document`). The thread then decodes the pieces one at a time
  (:func:`join_document`), each a few milliseconds of held GIL. The document is the same value
  ``orjson.loads(body)`` gives (orjson encodes what it decoded exactly).
* **The cyclic garbage collector** is the other GIL holder: a decoded 50,000-model catalog is
  millions of containers, and each full collection they trigger walks them all for 0.3-2 s
  (profiled: it found nothing to collect; JSON documents and the diff's values hold no cycles,
  reference counting frees them). While offloaded work runs, automatic collection is paused;
  when the last piece of a big run ends it resumes and what is alive then (the memo a diff
  needs) is moved out of the collector's sight (``gc.freeze``): later full passes walk only
  newer objects.

The CLI has no loop to keep free: :data:`INLINE` runs everything where it is called, and keeps
its peak memory at one copy of the document.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import orjson

P = ParamSpec("P")
T = TypeVar("T")

SLICE_ITEMS = 500
"""Items of the biggest container re-encoded per piece (a few ms of ``orjson.loads`` each)."""

SPLIT_BYTES = 2_000_000
"""Bodies up to this size are decoded in the thread (``orjson.loads`` holds the GIL ~2-5 ms)."""

Path = tuple[str | int, ...]

FREEZE_AFTER = 200_000
"""Containers left alive by the offloaded work (``gc.get_count()[0]`` while the collector was
paused) above which the survivors are frozen and the heap trimmed: a small gateway's run leaves
its few objects to the collector as usual, so a cycle that happened to be alive at that moment
is never frozen for good after every run."""


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None elsewhere)."""
    try:
        trim: Callable[[int], int] = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_TRIM = _malloc_trim()


@dataclass(frozen=True, slots=True)
class Pieces:
    """A document cut for decoding in short steps: ``skeleton`` with ``None`` at ``path``, where
    the container made of ``slices`` (each a JSON list of items, or of ``[key, value]`` pairs
    for an object) goes back."""

    skeleton: bytes
    path: Path = ()
    is_object: bool = False
    slices: tuple[bytes, ...] = ()
    error: str | None = None
    """Why the body is not JSON (orjson's message); the other fields are then empty."""


def _biggest(document: Any, depth: int = 3) -> tuple[int, Path]:
    """The size and path of the container with the most items within ``depth`` levels."""
    if not isinstance(document, dict | list):
        return 0, ()
    best: tuple[int, Path] = (len(document), ())
    if depth == 0:
        return best
    children = document.items() if isinstance(document, dict) else enumerate(document)
    for key, child in children:
        if isinstance(child, dict | list) and child:
            size, path = _biggest(child, depth - 1)
            if size > best[0]:
                best = (size, (key, *path))
    return best


def split_document(body: bytes) -> Pieces:
    """PURE (runs in the worker process): ``body`` decoded and cut into :class:`Pieces`."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return Pieces(b"", error=str(exc))
    size, path = _biggest(document)
    if size <= SLICE_ITEMS:
        return Pieces(orjson.dumps(document))
    parent: Any = None
    container: Any = document
    for key in path:
        parent, container = container, container[key]
    is_object = isinstance(container, dict)
    items: list[Any] = list(container.items()) if is_object else container
    slices = tuple(
        orjson.dumps(items[start : start + SLICE_ITEMS])
        for start in range(0, len(items), SLICE_ITEMS)
    )
    if parent is None:
        return Pieces(orjson.dumps(None), (), is_object, slices)
    parent[path[-1]] = None
    return Pieces(orjson.dumps(document), path, is_object, slices)


def join_document(pieces: Pieces) -> Any:
    """PURE: the document :func:`split_document` cut, decoded one piece at a time (between
    pieces the loop's thread may take the GIL)."""
    if pieces.error is not None:
        raise orjson.JSONDecodeError(pieces.error, "", 0)
    document = orjson.loads(pieces.skeleton)
    if not pieces.slices:
        return document
    container: Any = {} if pieces.is_object else []
    for piece in pieces.slices:
        if pieces.is_object:
            container.update(orjson.loads(piece))
        else:
            container.extend(orjson.loads(piece))
    if not pieces.path:
        return container
    parent = document
    for key in pieces.path[:-1]:
        parent = parent[key]
    parent[pieces.path[-1]] = container
    return document


_paused = 0
"""How many pieces of work hold the collector paused (:func:`collector_paused`)."""


@contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic collection while work that allocates many containers runs: a run's
    offloaded work, its commit (the change records it builds) and the change feed reading a
    run back. Entered and left on the loop's thread (the count needs no lock); when the last
    user leaves, a big run's survivors are frozen (see :data:`FREEZE_AFTER`) and the collector
    runs again. Left alone when something else disabled the collector."""
    global _paused  # noqa: PLW0603 - the collector is one per process
    if _paused == 0 and not gc.isenabled():
        yield
        return
    if _paused == 0:
        gc.disable()
    _paused += 1
    try:
        yield
    finally:
        _paused -= 1
        if _paused == 0:
            if gc.get_count()[0] > FREEZE_AFTER:  # a big run: what it keeps is frozen
                gc.freeze()
                _give_back()
            gc.enable()


def _give_back() -> None:
    """Hand the heap a big run freed back to the system (glibc keeps it otherwise: a 50,000-model
    sync left 5.6 KB a model resident where the memo is 1.2 KB), in a thread."""
    if _TRIM is not None:
        asyncio.get_running_loop().run_in_executor(None, _TRIM, 0)


class Offload:
    """Where a run's CPU work goes: a worker thread, and a worker process for big bodies."""

    def __init__(self, *, split_bytes: int = SPLIT_BYTES) -> None:
        self.split_bytes = split_bytes
        self._processes: Executor | None = None

    async def call(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``function(*args, **kwargs)`` in a worker thread."""
        with collector_paused():
            return await asyncio.to_thread(function, *args, **kwargs)

    async def loads(self, body: bytes) -> Any:
        """``orjson.loads(body)``, without holding the loop's GIL for more than a few ms."""
        with collector_paused():
            if len(body) <= self.split_bytes:
                return await asyncio.to_thread(orjson.loads, body)
            pool = self._processes or await asyncio.to_thread(self._start)
            loop = asyncio.get_running_loop()
            pieces = await loop.run_in_executor(pool, split_document, body)
            return await asyncio.to_thread(join_document, pieces)

    def _start(self) -> Executor:
        """The worker process, started and answering (in a thread: starting it waits on the
        fork server, forked rather than this process because this one has threads)."""
        if self._processes is None:
            context = multiprocessing.get_context("forkserver")
            pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
            pool.submit(int).result()
            self._processes = pool
        return self._processes

    def close(self) -> None:
        """Stop the worker process, if one was started."""
        if self._processes is not None:
            self._processes.shutdown(wait=False, cancel_futures=True)
            self._processes = None


class Inline(Offload):
    """Everything where it is called (the CLI: no loop to keep free, one copy of a document)."""

    async def call(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return function(*args, **kwargs)

    async def loads(self, body: bytes) -> Any:
        return orjson.loads(body)


INLINE = Inline()
