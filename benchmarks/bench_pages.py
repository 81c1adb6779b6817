"""The pages (issue 10): a cached model page against a bare Starlette route serving the same
bytes, the uncached render time of ``/models`` and of a model page with the SQL each runs, and
the model page's weight.

The database holds the models.dev catalog as one gateway (``modelsdev``, about 5,000 models;
every gateway's next run a week away), loaded by ``loadgen.py``, which also serves modelsync
with one uvicorn worker and the bare route with another, and measures both.

* **Cached**: ``wrk -t1`` on ``/models/{id}`` (a model with several offers), a hit of the shared
  response cache (in-process backend, as served), and on the bare route with the exact bytes;
  printed: requests/s of each and their ratio in this run (target >= 0.5).
* **Uncached**: ``/models?sort=prompt`` (the first 100 of the catalog by prompt price) and the
  model page, each fetched ``--renders`` times with ``X-Catalog-Min`` above any version (so the
  cache never answers and every request renders); printed: median and p90 milliseconds, and the
  statements each page runs, with SQLite's query plan.
* **Weight**: the model page's HTML, and HTML + stylesheet + script (targets 100 KB, 150 KB).

    python benchmarks/bench_pages.py [--seconds 8] [--connections 32] [--renders 40]
                                     [--fixtures ../shared/fixtures]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from loadgen import (
    Read,
    bench_arguments,
    catalog_file,
    config_text,
    database,
    load,
    measure,
    pick_model,
    report,
    serving,
)

from modelsync.observability import configure_logging
from modelsync.store import page_queries as pq
from modelsync.store import queries
from modelsync.store.read_lane import SqliteReadLane, compile_read

NEVER_CACHED = {"x-catalog-min": str(10**17)}
HTML_LIMIT = 100 * 1024
PAGE_LIMIT = 150 * 1024


def render_times(base: str, path: str, renders: int) -> list[float]:
    """Milliseconds of ``renders`` uncached requests, one at a time."""
    times = []
    with httpx.Client(timeout=30) as client:
        for _ in range(renders):
            start = time.perf_counter()
            response = client.get(base + path, headers=NEVER_CACHED)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (path, response.status_code)
    return times


def statements(model_id: str) -> dict[str, list[tuple[object, dict[str, object]]]]:
    """The page statements (the catalog version read is one more, on every render)."""
    sorted_page = pq.page_models(pq.PageShape("sqlite", sort=pq.Sort.PROMPT))
    history = pq.recent_changes(pq.ChangePageShape(model=True))
    return {
        "/models?sort=prompt": [(sorted_page, {"p_limit": 101, "p_offset": 0})],
        "/models/{id}": [
            (queries.offers(queries.Columns.SERVED), {"p_model_id": model_id}),
            (history, {"p_model": model_id, "p_limit": 50}),
        ],
    }


def show_sql(path: Path, model_id: str) -> None:
    """Each page's SQL and SQLite's plan of it."""
    connection = sqlite3.connect(path)
    try:
        for page, reads in statements(model_id).items():
            print(f"\n  {page}: 1 + {len(reads)} statements (the catalog version, then)")
            for statement, params in reads:
                compiled = compile_read(statement, SqliteReadLane.dialect)  # type: ignore[arg-type]
                print("    " + " ".join(compiled.sql.split()))
                found = connection.execute(
                    "EXPLAIN QUERY PLAN " + compiled.sql, compiled.arguments(params)
                ).fetchall()
                for row in found:
                    print(f"      plan: {row[3]}")
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser)
    parser.add_argument("--renders", type=int, default=40)
    args = parser.parse_args()
    catalog = catalog_file(args)
    configure_logging("WARNING")
    print(f"models.dev catalog as one gateway, SQLite; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        config = work / "pages.toml"
        config.write_text(config_text(0))
        with database("sqlite", work, "pages") as url:
            asyncio.run(load(url, config, catalog.read_bytes()))
            model_id = asyncio.run(pick_model(url, config))
            with serving(url, config, work, cache=True) as app:
                page = f"/models/{model_id}"
                html = httpx.get(app.base + page, timeout=30)
                css = httpx.get(app.base + "/static/site.css", timeout=30)
                script = httpx.get(app.base + "/static/live.js", timeout=30)
                results = measure([Read(f"{page} (cached)", page, 0.5)], app, work, args)
                report("cached model page vs the bare route (same bytes)", results)
                print("\nuncached renders (one at a time, X-Catalog-Min forces a render)")
                for path in ("/models?sort=prompt", page):
                    times = render_times(app.base, path, args.renders)
                    p90 = statistics.quantiles(times, n=10)[-1]
                    print(f"  {path:<60} median {statistics.median(times):6.1f} ms  "
                          f"p90 {p90:6.1f} ms")  # fmt: skip
            show_sql(work / "pages.db", model_id)
    whole = len(html.content) + len(css.content) + len(script.content)
    print(
        f"\nmodel page weight: HTML {len(html.content):,} B (limit {HTML_LIMIT:,}: "
        f"{'ok' if len(html.content) < HTML_LIMIT else 'OVER'}), HTML + CSS + JS {whole:,} B "
        f"(limit {PAGE_LIMIT:,}: {'ok' if whole < PAGE_LIMIT else 'OVER'})"
    )


if __name__ == "__main__":
    main()
