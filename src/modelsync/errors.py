"""The one exception hierarchy of modelsync.

::

    ModelsyncError
    ├── ConfigError                 bad settings, unknown gateway name
    ├── SyncError                   anything that makes a run fail or be rejected
    │   ├── FetchError              the upstream could not be read
    │   │   ├── TransientFetchError     timeout, connection error, 429, 5xx: retried
    │   │   │   └── RateLimited             429 (``retry_after`` seconds when the server said)
    │   │   ├── UpstreamHTTPError       any other non-2xx status: not retried
    │   │   └── BodyTooLarge            the body passed the size limit
    │   ├── PayloadError            the body is not the gateway's list of models
    │   └── SnapshotRejected        the guard refused a well-formed snapshot
    ├── StoreError                  the database failed (mapped from SQLAlchemy at the boundary)
    │   └── LeaseLost               another process holds (or took over) the gateway's lease
    └── WebhookError                a delivery that is refused
        ├── SignatureError              missing, malformed or wrong signature; stale timestamp (401)
        ├── WebhookPayloadError         invalid JSON or wrong shape (400 / 422)
        └── WebhookTooLarge             body over the limit (413)

A :class:`SyncError` becomes a *failed* run (``rejected`` for :class:`SnapshotRejected`): recorded,
shown in the gateway's status, and never a change to the catalog.
"""

from __future__ import annotations


class ModelsyncError(Exception):
    """Base of every error modelsync raises on purpose."""


class ConfigError(ModelsyncError):
    """Settings that cannot work: an unknown gateway, a bad URL, a missing required value."""


class SyncError(ModelsyncError):
    """A run could not produce a trustworthy snapshot."""


class FetchError(SyncError):
    """The upstream could not be read."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransientFetchError(FetchError):
    """Worth retrying: a timeout, a dropped connection, a 5xx."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class RateLimited(TransientFetchError):
    """HTTP 429."""


class UpstreamHTTPError(FetchError):
    """A non-2xx answer that retrying will not fix (401, 403, 404, ...)."""


class BodyTooLarge(FetchError):
    """The (decoded) body passed the configured limit."""


class PayloadError(SyncError):
    """The body is not this gateway's list of models: bad JSON, wrong shape, a bad value."""


class SnapshotRejected(SyncError):
    """The guard refused a snapshot: empty, shrunk past the limit, duplicate ids."""


class StoreError(ModelsyncError):
    """The database failed."""


class LeaseLost(StoreError):
    """The run's lease expired or was taken over; its writes were refused."""


class WebhookError(ModelsyncError):
    """A webhook delivery that is refused."""

    status_code = 400


class SignatureError(WebhookError):
    status_code = 401


class WebhookPayloadError(WebhookError):
    def __init__(self, message: str, *, status_code: int = 422) -> None:
        super().__init__(message)
        self.status_code = status_code


class WebhookTooLarge(WebhookError):
    status_code = 413
