"""Small pure helpers for the simulator's HTTP answers: error bodies in each gateway's style,
the key check each gateway makes, and strong ETags.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
}
_OPENAI_TYPE = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
}


def error_body(gateway: str, status: int, message: str) -> dict[str, Any]:
    """An error document the way ``gateway`` writes one."""
    if gateway == "google":
        return {
            "error": {
                "code": status,
                "message": message,
                "status": _GOOGLE_STATUS.get(status, "UNKNOWN"),
            }
        }
    if gateway == "fal":
        return {"detail": message}
    if gateway == "near":
        return {"error": {"message": message, "type": _OPENAI_TYPE.get(status, "error")}}
    code = "invalid_api_key" if status == 401 else None
    return {"error": {"message": message, "type": _OPENAI_TYPE.get(status, "error"), "code": code}}


def json_response(
    document: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """``document`` serialized with orjson as ``application/json``."""
    return Response(orjson.dumps(document), status, dict(headers or {}), "application/json")


def gateway_error(
    gateway: str, status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """An error response in ``gateway``'s style."""
    return json_response(error_body(gateway, status, message), status, headers)


def key_problem(
    gateway: str, key_required: bool, headers: Mapping[str, str], query: Mapping[str, str]
) -> str | None:
    """Why the request's credentials are refused, or ``None`` when they are accepted.

    Any non-empty key is accepted. Google takes ``x-goog-api-key`` (or ``?key=``), fal takes
    ``Authorization: Key ...``, every other gateway ``Authorization: Bearer ...``. A gateway whose
    key is optional still refuses a malformed Authorization header.
    """
    if gateway == "google":
        if headers.get("x-goog-api-key", "").strip() or query.get("key", "").strip():
            return None
        return "Method doesn't allow unregistered callers. Please use an API key (x-goog-api-key)."
    scheme = "Key" if gateway == "fal" else "Bearer"
    authorization = headers.get("authorization")
    if authorization is None:
        return "Missing API key" if key_required else None
    given, _, token = authorization.strip().partition(" ")
    if given.lower() != scheme.lower() or not token.strip():
        return f"Invalid API key: expected 'Authorization: {scheme} <key>'"
    return None


def strong_etag(body: bytes) -> str:
    """A strong ETag of the body's bytes."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, as RFC 9110 says)."""
    if not if_none_match:
        return False
    candidates = [item.strip() for item in if_none_match.split(",")]
    return "*" in candidates or etag in (item.removeprefix("W/") for item in candidates)
