"""A page of the change history as the API and the CLI answer it: the changes, the cursor for
the next page, and whether retention pruned changes the cursor asked for.

Retention deletes the oldest changes first, so every change older than the oldest one kept is
gone: a ``since`` below ``oldest_seq - 1`` asked for some of them. The page says so
(``"truncated": true`` with ``oldest_seq``) instead of silently starting later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class OldestChange(Protocol):
    """The part of :class:`~modelsync.store.base.Store` this needs."""

    async def oldest_change_seq(self) -> int | None:
        """The seq of the oldest retained change."""
        ...


def truncated(since: int | None, oldest_seq: int | None) -> bool:
    """PURE: whether changes after ``since`` were pruned before ``oldest_seq``."""
    return since is not None and oldest_seq is not None and since + 1 < oldest_seq


async def change_page(
    store: OldestChange, changes: Sequence[dict[str, Any]], *, since: int | None
) -> dict[str, Any]:
    """``changes`` (oldest or newest first) as a page, the oldest retained seq read here."""
    return page_of(changes, since=since, oldest_seq=await store.oldest_change_seq())


def page_of(
    changes: Sequence[dict[str, Any]], *, since: int | None, oldest_seq: int | None
) -> dict[str, Any]:
    """PURE: ``changes`` as a page: ``next`` is the newest seq in it (or ``since``),
    ``oldest_seq`` the oldest retained, ``truncated`` whether ``since`` was pruned."""
    seqs = [int(change["seq"]) for change in changes]
    return paged(list(changes), max(seqs, default=None), since=since, oldest_seq=oldest_seq)


def paged(
    changes: list[Any], newest_seq: int | None, *, since: int | None, oldest_seq: int | None
) -> dict[str, Any]:
    """PURE: :func:`page_of` for changes already written as JSON, whose newest seq is known."""
    return {
        "changes": changes,
        "next": newest_seq if newest_seq is not None else (since or 0),
        "truncated": truncated(since, oldest_seq),
        "oldest_seq": oldest_seq,
    }
