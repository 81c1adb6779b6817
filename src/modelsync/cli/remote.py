"""``--remote URL``: the same commands against a running server, with the same output.

The admin token comes from ``MODELSYNC_ADMIN_TOKEN``. Status rows are cut down to the keys the
in-process command prints, so a script reads either the same way.
"""

from __future__ import annotations

from typing import Any

import httpx

from modelsync.domain import RunOutcome
from modelsync.errors import ConfigError, ModelsyncError
from modelsync.sync.health import STATUS_FIELDS
from modelsync.sync.runner import RunSummary


def _client(base_url: str, token: str | None, *, timeout_s: float) -> httpx.Client:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s)


def _answer(response: httpx.Response) -> Any:
    if response.status_code == 404:
        raise ConfigError(_detail(response))
    if response.status_code in (401, 403):
        raise ConfigError(f"{_detail(response)} (set MODELSYNC_ADMIN_TOKEN)")
    if response.is_error:
        raise ModelsyncError(f"{response.request.url} answered {response.status_code}: "
                             f"{_detail(response)}")  # fmt: skip
    return response.json()


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return str(detail) if detail else response.text[:200]


def _request(base_url: str, token: str | None, method: str, path: str, **kwargs: Any) -> Any:
    try:
        with _client(base_url, token, timeout_s=600.0) as client:
            return _answer(client.request(method, path, **kwargs))
    except httpx.HTTPError as exc:
        raise ModelsyncError(f"cannot reach {base_url}: {exc}") from exc


def remote_get(
    base_url: str, token: str | None, path: str, params: dict[str, Any] | None = None
) -> Any:
    """``GET path`` on a running server: its JSON answer."""
    return _request(base_url, token, "GET", path, params=params)


def remote_sync(base_url: str, token: str | None, gateway: str) -> tuple[int, list[RunSummary]]:
    """``POST /api/sync/models`` (waits); the catalog version and one summary per gateway."""
    report = _request(base_url, token, "POST", "/api/sync/models", json={"gateway": gateway})
    summaries = [
        RunSummary(
            gateway=row["gateway"],
            outcome=RunOutcome(row["outcome"]),
            added=row["added"],
            updated=row["updated"],
            removed=row["removed"],
            restored=row.get("restored", 0),
            missing=row.get("missing", 0),
            total_models=row["total_models"],
            duration_ms=row["duration_ms"],
            error=row["error"],
            quarantined={item["id"]: item["reason"] for item in row.get("quarantined", ())},
            filtered=row.get("filtered") or {},
            warnings=tuple(row.get("warnings") or ()),
        )
        for row in report["gateways"]
    ]
    return int(report["catalog_version"]), summaries


def remote_status(
    base_url: str, token: str | None, gateway: str | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``GET /api/sync/status``: the gateways, each row cut to the keys ``modelsync status
    --json`` prints, and the serving processes the server lists (as local ``status`` reads
    them from the registry)."""
    params = {"gateway": gateway} if gateway else None
    answer = remote_get(base_url, token, "/api/sync/status", params)
    rows = [{key: row.get(key) for key in STATUS_FIELDS} for row in answer["gateways"]]
    processes = answer.get("processes")
    return rows, list(processes) if isinstance(processes, list) else []
