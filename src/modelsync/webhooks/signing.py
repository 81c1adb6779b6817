"""PURE webhook signature verification (DESIGN section 8): values in, a :class:`Verified` out.

Two schemes, both HMAC-SHA256:

* ``hmac-sha256``, the seed front end's: ``X-Webhook-Signature: [sha256=]<64 hex>`` over the raw
  body. The replay window comes from the payload's ``timestamp`` (milliseconds), which is inside
  the signed body and so is read only after the HMAC passed (:func:`check_body_timestamps`). The
  idempotency key is the SHA-256 of the body: identical deliveries are duplicates.
* ``standard-webhooks``: ``webhook-id``, ``webhook-timestamp`` (integer seconds) and
  ``webhook-signature`` (space-delimited ``v1,<base64>`` entries; other versions are skipped, any
  one ``v1`` match passes) over ``id.timestamp.body``. The idempotency key is ``webhook-id``.

Keys come from ``MODEL_WEBHOOK_SECRET``: several space-separated secrets for rotation, and a
delivery verifies when any key matches. A ``whsec_`` secret is a Standard Webhooks key (base64
after the prefix, padding optional); any other secret is the raw UTF-8 key of the
``X-Webhook-Signature`` scheme. Each key serves one scheme only: plain secrets are *not* tried as
Standard Webhooks keys (every reference library base64-decodes a secret, so its raw bytes would
match no standard sender, and one scheme per key keeps the accepted key set minimal).

A delivery carrying ``webhook-signature`` is checked as Standard Webhooks when a ``whsec_`` key is
configured, otherwise ``X-Webhook-Signature`` is checked when a plain key is; a failed check is
final (no fall-back to the other scheme). Every malformed header is a
:class:`~modelsync.errors.SignatureError` with a short reason that never contains a secret;
signatures are format-checked before use and compared with :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelsync.errors import ConfigError, SignatureError

HEX_SCHEME = "hmac-sha256"
STANDARD_SCHEME = "standard-webhooks"
HEX_HEADER = "x-webhook-signature"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
STANDARD_PREFIX = "whsec_"
DEFAULT_TOLERANCE_S = 300.0

_HEX_SIGNATURE = re.compile(r"(?:sha256=)?([0-9a-fA-F]{64})")
_V1_SIGNATURE = re.compile(r"[A-Za-z0-9+/]{43}=")
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_MESSAGE_ID = re.compile(r"[\x21-\x2d\x2f-\x7e]{1,256}")
"""Printable ASCII without ``.`` (the separator of the signed content), at most 256 characters."""


@dataclass(frozen=True, slots=True)
class Verified:
    """A delivery whose signature matched: which scheme, and its idempotency key."""

    scheme: str
    key: str


@dataclass(frozen=True, slots=True)
class WebhookKeys:
    """The parsed ``MODEL_WEBHOOK_SECRET``: raw keys per scheme (never shown in ``repr``)."""

    hex_keys: tuple[bytes, ...] = field(default=(), repr=False)
    standard_keys: tuple[bytes, ...] = field(default=(), repr=False)

    @property
    def configured(self) -> bool:
        """Whether any key is configured (without one every delivery is refused)."""
        return bool(self.hex_keys or self.standard_keys)

    @property
    def schemes(self) -> tuple[str, ...]:
        """The schemes that have at least one key."""
        return ((HEX_SCHEME,) if self.hex_keys else ()) + (
            (STANDARD_SCHEME,) if self.standard_keys else ()
        )


def parse_secrets(raw: str | None) -> WebhookKeys:
    """Split ``MODEL_WEBHOOK_SECRET`` into keys; a bad ``whsec_`` secret is a ConfigError."""
    hex_keys: list[bytes] = []
    standard_keys: list[bytes] = []
    for position, secret in enumerate((raw or "").split(), start=1):
        if secret.startswith(STANDARD_PREFIX):
            key = _standard_key(secret[len(STANDARD_PREFIX) :], position)
            if key not in standard_keys:
                standard_keys.append(key)
        elif (key := secret.encode()) not in hex_keys:
            hex_keys.append(key)
    return WebhookKeys(tuple(hex_keys), tuple(standard_keys))


def _standard_key(encoded: str, position: int) -> bytes:
    """Decode a ``whsec_`` secret's base64, accepting it unpadded as the reference libraries do."""
    if not encoded or len(encoded) % 4 == 1:
        raise ConfigError(f"MODEL_WEBHOOK_SECRET entry {position} (whsec_) is not valid base64")
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(
            f"MODEL_WEBHOOK_SECRET entry {position} (whsec_) is not valid base64"
        ) from exc


def verify(
    keys: WebhookKeys,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> Verified:
    """Verify a delivery by its headers; ``headers`` must answer lower-case names.

    Starlette's ``Headers`` does (case-insensitively). For the ``hmac-sha256`` scheme the
    timestamp check follows separately, once the body is parsed: :func:`check_body_timestamps`.
    """
    if not keys.configured:
        raise SignatureError("no webhook secret configured")
    standard = headers.get(SIGNATURE_HEADER)
    if standard is not None and keys.standard_keys:
        return verify_standard(
            keys.standard_keys,
            body,
            msg_id=headers.get(ID_HEADER),
            timestamp=headers.get(TIMESTAMP_HEADER),
            signature=standard,
            now=now,
            tolerance_s=tolerance_s,
        )
    seed = headers.get(HEX_HEADER)
    if seed is not None and keys.hex_keys:
        return verify_hex(keys.hex_keys, body, seed)
    if standard is not None:
        raise SignatureError("no whsec_ secret configured for Standard Webhooks")
    if seed is not None:
        raise SignatureError("no plain secret configured for X-Webhook-Signature")
    raise SignatureError("missing signature header")


def verify_hex(keys: Sequence[bytes], body: bytes, header: str) -> Verified:
    """Check ``[sha256=]<hex HMAC-SHA256 of the body>`` against each key (strict format)."""
    match = _HEX_SIGNATURE.fullmatch(header)
    if match is None:
        raise SignatureError("malformed X-Webhook-Signature: expected [sha256=]<64 hex digits>")
    given = bytes.fromhex(match.group(1))
    for key in keys:
        if hmac.compare_digest(hmac.digest(key, body, "sha256"), given):
            return Verified(HEX_SCHEME, hashlib.sha256(body).hexdigest())
    raise SignatureError("signature does not match")


def verify_standard(
    keys: Sequence[bytes],
    body: bytes,
    *,
    msg_id: str | None,
    timestamp: str | None,
    signature: str,
    now: datetime,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> Verified:
    """Check Standard Webhooks headers: id, timestamp inside the tolerance, a matching ``v1``."""
    if not msg_id:
        raise SignatureError("missing webhook-id")
    if _MESSAGE_ID.fullmatch(msg_id) is None:
        raise SignatureError("malformed webhook-id")
    if not timestamp:
        raise SignatureError("missing webhook-timestamp")
    if _TIMESTAMP.fullmatch(timestamp) is None:
        raise SignatureError("webhook-timestamp is not an integer")
    check_timestamp(int(timestamp), now=now, tolerance_s=tolerance_s)
    candidates = [
        value
        for version, _, value in (entry.partition(",") for entry in signature.split(" "))
        if version == "v1"
    ]
    if not candidates:
        raise SignatureError("no v1 signature in webhook-signature")
    wellformed = [value for value in candidates if _V1_SIGNATURE.fullmatch(value)]
    if not wellformed:
        raise SignatureError("malformed v1 signature: expected 44 characters of base64")
    for key in keys:
        expected = standard_signature(key, msg_id, timestamp, body)
        for value in wellformed:
            if hmac.compare_digest(expected, value):
                return Verified(STANDARD_SCHEME, msg_id)
    raise SignatureError("signature does not match")


def check_timestamp(
    seconds: float, *, now: datetime, tolerance_s: float = DEFAULT_TOLERANCE_S
) -> None:
    """Refuse a timestamp (Unix seconds) more than ``tolerance_s`` before or after ``now``."""
    age = now.timestamp() - seconds
    if age > tolerance_s:
        raise SignatureError("timestamp too old")
    if -age > tolerance_s:
        raise SignatureError("timestamp too new")


def check_body_timestamps(
    verified: Verified,
    document: Any,
    *,
    now: datetime,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> None:
    """For ``hmac-sha256``, every event's ``timestamp`` (ms) must be inside the tolerance.

    ``document`` is the parsed body (an event or a list of events), read only after the HMAC
    passed. A body without a timestamp is refused. Standard Webhooks deliveries carry theirs in
    ``webhook-timestamp`` (already checked), so this is a no-op for them.
    """
    if verified.scheme != HEX_SCHEME:
        return
    events = document if isinstance(document, list) else [document]
    if not events:
        raise SignatureError("no timestamp in the signed body")
    for event in events:
        stamp = event.get("timestamp") if isinstance(event, dict) else None
        if stamp is None:
            raise SignatureError("no timestamp in the signed body")
        if type(stamp) is not int:
            raise SignatureError("timestamp in the signed body is not an integer (milliseconds)")
        check_timestamp(stamp / 1000, now=now, tolerance_s=tolerance_s)


def standard_signature(key: bytes, msg_id: str, timestamp: str | int, body: bytes) -> str:
    """The base64 HMAC-SHA256 of ``id.timestamp.body`` (without the ``v1,`` prefix)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.digest(key, signed, "sha256")).decode()


def sign_standard(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """A ``webhook-signature`` value for a Standard Webhooks secret (``whsec_`` optional)."""
    key = _standard_key(secret.removeprefix(STANDARD_PREFIX), 1)
    return "v1," + standard_signature(key, msg_id, timestamp, body)


def sign_hex(secret: str, body: bytes) -> str:
    """An ``X-Webhook-Signature`` value (``sha256=<hex>``) for a plain secret."""
    return "sha256=" + hmac.digest(secret.encode(), body, "sha256").hex()
