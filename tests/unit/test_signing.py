"""Webhook signature verification: the official vectors, then every malformed input."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Headers

from conftest import SHARED_FIXTURES
from modelsync.errors import ConfigError, SignatureError
from modelsync.webhooks.signing import (
    HEX_SCHEME,
    STANDARD_SCHEME,
    Verified,
    WebhookKeys,
    check_body_timestamps,
    parse_secrets,
    sign_hex,
    sign_standard,
    standard_signature,
    verify,
    verify_hex,
)

VECTORS_FILE = SHARED_FIXTURES / "webhooks" / "vectors.json"
PLAIN = "plain-secret-for-tests"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
BODY = json.dumps({"gateway": "groq", "event_type": "models.updated", "timestamp": NOW_MS}).encode()


def vectors(section: str, *, with_key: str | None = None) -> list[Any]:
    """The entries of one section of vectors.json as params (one skipped param when absent)."""
    if not VECTORS_FILE.exists():
        reason = f"recorded fixture webhooks/vectors.json not found under {SHARED_FIXTURES}"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="absent")]
    entries = json.loads(VECTORS_FILE.read_text())[section]
    return [
        pytest.param(entry, id=entry["id"], marks=pytest.mark.shared_fixtures)
        for entry in entries
        if with_key is None or with_key in entry
    ]


def vector(entry_id: str) -> dict[str, Any]:
    """One entry by id, from any section (skips when the file is absent)."""
    if not VECTORS_FILE.exists():
        pytest.skip(f"recorded fixture webhooks/vectors.json not found under {SHARED_FIXTURES}")
    data = json.loads(VECTORS_FILE.read_text())
    return next(e for s in data.values() if isinstance(s, list) for e in s if e["id"] == entry_id)


def sw_headers(
    signature: str, *, msg_id: str = "msg_1", ts: int | str | None = None
) -> dict[str, str]:
    stamp = str(int(NOW.timestamp()) if ts is None else ts)
    return {"webhook-id": msg_id, "webhook-timestamp": stamp, "webhook-signature": signature}


def sw_sign(
    body: bytes = BODY, *, secret: str = WHSEC, msg_id: str = "msg_1", ts: int | None = None
) -> str:
    return sign_standard(secret, msg_id, int(NOW.timestamp()) if ts is None else ts, body)


def reason(keys: WebhookKeys, headers: dict[str, str], body: bytes = BODY) -> str:
    with pytest.raises(SignatureError) as caught:
        verify(keys, headers, body, now=NOW)
    return str(caught.value)


KEYS = parse_secrets(f"{PLAIN} {WHSEC}")
GOOD_HEX = sign_hex(PLAIN, BODY).removeprefix("sha256=")

# -- official vectors --------------------------------------------------------------------------


@pytest.mark.parametrize("entry", vectors("standard_webhooks", with_key="expected_signature"))
def test_standard_webhooks_sign_vector(entry: dict[str, Any]) -> None:
    """The reference libraries' signature is reproduced and verifies at its own timestamp."""
    body = entry["payload"].encode()
    signature = sign_standard(entry["secret"], entry["msg_id"], entry["timestamp"], body)
    assert signature == entry["expected_signature"]
    headers = sw_headers(signature, msg_id=entry["msg_id"], ts=entry["timestamp"])
    now = datetime.fromtimestamp(entry["timestamp"], UTC)
    verified = verify(parse_secrets(entry["secret"]), headers, body, now=now)
    assert verified == Verified(STANDARD_SCHEME, entry["msg_id"])


@pytest.mark.parametrize("entry", vectors("standard_webhooks", with_key="must_not_verify"))
def test_standard_webhooks_negative_vector(entry: dict[str, Any]) -> None:
    """A signature one character off the official one is refused."""
    base = vector("sw-sign-1")
    headers = sw_headers(entry["must_not_verify"], msg_id=base["msg_id"], ts=base["timestamp"])
    now = datetime.fromtimestamp(base["timestamp"], UTC)
    with pytest.raises(SignatureError, match="does not match"):
        verify(parse_secrets(base["secret"]), headers, base["payload"].encode(), now=now)


@pytest.mark.parametrize("entry", vectors("standard_webhooks", with_key="decoys"))
def test_standard_webhooks_multi_signature_vector(entry: dict[str, Any]) -> None:
    """Decoys (a wrong v1, a v2) are skipped; the one valid v1 passes, decoys alone do not."""
    decoys = " ".join(entry["decoys"])
    assert verify(KEYS, sw_headers(f"{decoys} {sw_sign()}"), BODY, now=NOW).key == "msg_1"
    assert verify(KEYS, sw_headers(f"{sw_sign()} {decoys}"), BODY, now=NOW).key == "msg_1"
    assert reason(KEYS, sw_headers(decoys)) == "signature does not match"


@pytest.mark.parametrize("entry", vectors("standard_webhooks", with_key="secrets"))
def test_standard_webhooks_unpadded_secrets(entry: dict[str, Any]) -> None:
    """Unpadded secrets decode to the reference library's key and verify a round trip."""
    for secret in entry["secrets"]:
        keys = parse_secrets("whsec_" + secret)
        assert keys.standard_keys == (base64.b64decode(secret + "=="),)
        assert verify(keys, sw_headers(sw_sign(secret=secret)), BODY, now=NOW).key == "msg_1"


@pytest.mark.parametrize("entry", vectors("standard_webhooks", with_key="tolerance_seconds"))
def test_standard_webhooks_tolerance_vector(entry: dict[str, Any]) -> None:
    """Inside the tolerance passes at both edges; one second past either edge is refused."""
    tolerance = entry["tolerance_seconds"]
    now_s = int(NOW.timestamp())
    for ts in (now_s - tolerance, now_s + tolerance):
        assert verify(KEYS, sw_headers(sw_sign(ts=ts), ts=ts), BODY, now=NOW)
    for ts, why in ((now_s - tolerance - 1, "too old"), (now_s + tolerance + 1, "too new")):
        assert why in reason(KEYS, sw_headers(sw_sign(ts=ts), ts=ts))


@pytest.mark.parametrize("entry", vectors("github_x_hub_signature_256", with_key="expected_header"))
def test_github_hex_vectors(entry: dict[str, Any]) -> None:
    """GitHub's sha256=<hex> headers verify, with or without the prefix, in either case."""
    keys = (entry["secret"].encode(),)  # GitHub's has spaces: not configurable in the variable
    body = entry["payload"].encode()
    header = entry["expected_header"]
    assert sign_hex(entry["secret"], body) == header
    digest = header.removeprefix("sha256=")
    for form in (header, digest, digest.upper(), "sha256=" + digest.upper()):
        assert verify_hex(keys, body, form).scheme == HEX_SCHEME
    assert entry.get("expected_hex", digest) == digest


@pytest.mark.parametrize("entry", vectors("github_x_hub_signature_256", with_key="must_not_verify"))
def test_github_negative_vectors(entry: dict[str, Any]) -> None:
    """octokit's rejected headers are malformed here, never a crash."""
    keys = parse_secrets(entry["secret"]).hex_keys
    for header in entry["must_not_verify"]:
        with pytest.raises(SignatureError, match="malformed"):
            verify_hex(keys, entry["payload"].encode(), header)


@pytest.mark.parametrize("entry", vectors("stripe_signature"))
def test_stripe_vector_hex_hmac_and_header_refused(entry: dict[str, Any]) -> None:
    """Stripe's v1 is our hex HMAC over ``t.payload``; its header itself is not a scheme we take."""
    stamp, v1 = (part.split("=", 1)[1] for part in entry["expected_header"].split(","))
    signed = f"{entry['timestamp']}.{entry['payload']}".encode()
    assert verify_hex((entry["secret"].encode(),), signed, v1).scheme == HEX_SCHEME
    assert stamp == str(entry["timestamp"])
    body = entry["payload"].encode()
    assert reason(KEYS, {"stripe-signature": entry["expected_header"]}, body) == (
        "missing signature header"
    )
    assert "malformed" in reason(KEYS, {"x-webhook-signature": entry["expected_header"]}, body)
    with pytest.raises(ConfigError) as caught:
        parse_secrets(entry["secret"])
    assert "test_secret" not in str(caught.value)


# -- the seed scheme's bad inputs ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", "malformed"),
        ("zz" * 32, "malformed"),
        (GOOD_HEX[:63], "malformed"),
        (GOOD_HEX[:32], "malformed"),
        (GOOD_HEX + "0", "malformed"),
        (GOOD_HEX + "00", "malformed"),
        (GOOD_HEX + " ", "malformed"),
        (GOOD_HEX + "\n", "malformed"),
        (" " + GOOD_HEX, "malformed"),
        ("sha256= " + GOOD_HEX, "malformed"),
        ("sha256=", "malformed"),
        ("SHA256=" + GOOD_HEX, "malformed"),
        ("sha1=" + GOOD_HEX, "malformed"),
        (GOOD_HEX[:2] + " " + GOOD_HEX[2:63], "malformed"),
        ("０" * 64, "malformed"),
        ("é" * 64, "malformed"),
        (GOOD_HEX[:-1] + ("0" if GOOD_HEX[-1] != "0" else "1"), "does not match"),
        (sign_hex("another-secret", BODY), "does not match"),
        (sign_hex(PLAIN, BODY + b" "), "does not match"),
    ],
    ids=lambda value: repr(value)[:24],
)
def test_hex_signature_refused(header: str, expected: str) -> None:
    """Empty, non-hex, odd, truncated, trailing, whitespace tricks, wrong key or body: refused."""
    message = reason(KEYS, {"x-webhook-signature": header})
    assert expected in message
    assert PLAIN not in message


@pytest.mark.parametrize(
    "header", [GOOD_HEX, GOOD_HEX.upper(), "sha256=" + GOOD_HEX, "sha256=" + GOOD_HEX.upper()]
)
def test_hex_signature_accepted(header: str) -> None:
    """Hex in either case, with or without ``sha256=``; the key is the body's SHA-256."""
    verified = verify(KEYS, {"x-webhook-signature": header}, BODY, now=NOW)
    assert verified.scheme == HEX_SCHEME
    assert len(verified.key) == 64


def test_missing_signature() -> None:
    """No signature header at all is refused."""
    assert reason(KEYS, {"content-type": "application/json"}) == "missing signature header"


def test_identical_bodies_share_the_idempotency_key() -> None:
    """The seed scheme's key depends on the body only."""
    headers = {"x-webhook-signature": GOOD_HEX}
    assert verify(KEYS, headers, BODY, now=NOW) == verify(KEYS, headers, BODY, now=NOW)


def stamped(offset_s: float) -> dict[str, Any]:
    return {"gateway": "groq", "timestamp": int(NOW_MS + offset_s * 1000)}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (stamped(-360), "too old"),
        (stamped(360), "too new"),
        (stamped(-300.001), "too old"),
        ({"gateway": "groq"}, "no timestamp"),
        ({"timestamp": None}, "no timestamp"),
        ({"timestamp": str(NOW_MS)}, "not an integer"),
        ({"timestamp": float(NOW_MS)}, "not an integer"),
        ({"timestamp": True}, "not an integer"),
        ([], "no timestamp"),
        ("text", "no timestamp"),
        ([stamped(0), stamped(-360)], "too old"),
        ([stamped(0), 5], "no timestamp"),
        (stamped(-1_700_000_000), "too old"),
    ],
    ids=lambda value: repr(value)[:30],
)
def test_seed_body_timestamp_refused(document: Any, expected: str) -> None:
    """6 minutes old or ahead, missing, not an int (ms), in any event of a list: refused."""
    with pytest.raises(SignatureError, match=expected):
        check_body_timestamps(Verified(HEX_SCHEME, "k"), document, now=NOW)


@pytest.mark.parametrize(
    "document", [stamped(0), stamped(-300), stamped(300), [stamped(-1), stamped(1)]]
)
def test_seed_body_timestamp_accepted(document: Any) -> None:
    """Timestamps inside the window (edges included) pass, for one event or a list."""
    assert check_body_timestamps(Verified(HEX_SCHEME, "k"), document, now=NOW) is None


def test_body_timestamp_ignored_for_standard_webhooks() -> None:
    """Standard Webhooks' timestamp is the header's; the body's event time may be old."""
    document = stamped(-86_400)
    assert check_body_timestamps(Verified(STANDARD_SCHEME, "k"), document, now=NOW) is None


# -- Standard Webhooks' bad inputs --------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (sw_headers("v1"), "malformed v1"),
        (sw_headers("v1,"), "malformed v1"),
        (sw_headers("v1,!!!!"), "malformed v1"),
        (sw_headers("v1,abc"), "malformed v1"),
        (sw_headers("v1," + "A" * 44), "malformed v1"),
        (sw_headers("v1," + "é" * 43 + "="), "malformed v1"),
        (sw_headers("v2," + sw_sign()[3:]), "no v1"),
        (sw_headers("v1a,abcd v2,efgh"), "no v1"),
        (sw_headers(""), "no v1"),
        (sw_headers(sw_sign().replace(",", " ")), "malformed v1"),
        (sw_headers(sw_sign(), ts="1767225600.5"), "not an integer"),
        (sw_headers(sw_sign(), ts="abc"), "not an integer"),
        (sw_headers(sw_sign(), ts="-1"), "not an integer"),
        (sw_headers(sw_sign(), ts=" 1767225600"), "not an integer"),
        (sw_headers(sw_sign(), ts="1e9"), "not an integer"),
        (sw_headers(sw_sign(), ts=""), "missing webhook-timestamp"),
        (sw_headers(sw_sign(), ts="1767225240"), "too old"),
        (sw_headers(sw_sign(), ts="1767225960"), "too new"),
        (sw_headers(sw_sign(), msg_id=""), "missing webhook-id"),
        (sw_headers(sw_sign(), msg_id="msg.1"), "malformed webhook-id"),
        (sw_headers(sw_sign(), msg_id="msg 1"), "malformed webhook-id"),
        (sw_headers(sw_sign(), msg_id="m" * 257), "malformed webhook-id"),
        (sw_headers(sw_sign(msg_id="msg_2")), "does not match"),
        (sw_headers(sw_sign(ts=int(NOW.timestamp()) - 1)), "does not match"),
        (sw_headers(sw_sign(BODY + b" ")), "does not match"),
        (sw_headers(sw_sign(secret="whsec_" + "A" * 32)), "does not match"),
    ],
    ids=lambda value: (
        repr(value.get("webhook-signature", value))[:40] if isinstance(value, dict) else value
    ),
)
def test_standard_webhooks_refused(headers: dict[str, str], expected: str) -> None:
    """v1, v1, , bad base64, only v2, non-integer or stale timestamps, bad ids: refused."""
    message = reason(KEYS, headers)
    assert expected in message
    assert WHSEC.removeprefix("whsec_") not in message


def test_standard_webhooks_missing_id_header() -> None:
    """Without webhook-id there is nothing to sign against."""
    headers = sw_headers(sw_sign())
    del headers["webhook-id"]
    assert reason(KEYS, headers) == "missing webhook-id"


def test_non_canonical_base64_does_not_match() -> None:
    """A different encoding of the same bytes is refused (the comparison is on the text)."""
    good = sw_sign()
    last = good[-2]
    twin = good[:-2] + chr(ord(last) + 1) + "="
    assert base64.b64decode(twin[3:])[:31] == base64.b64decode(good[3:])[:31]
    assert reason(KEYS, sw_headers(twin)) == "signature does not match"


# -- keys, rotation, scheme selection -----------------------------------------------------------


def test_rotation_any_configured_secret_verifies() -> None:
    """Two secrets of each kind: a delivery signed with either passes, a third does not."""
    keys = parse_secrets(f"old-plain new-plain\n{WHSEC}\twhsec_{'B' * 32}")
    for plain in ("old-plain", "new-plain"):
        assert verify(keys, {"x-webhook-signature": sign_hex(plain, BODY)}, BODY, now=NOW)
    for secret in (WHSEC, "whsec_" + "B" * 32):
        assert verify(keys, sw_headers(sw_sign(secret=secret)), BODY, now=NOW)
    assert "does not match" in reason(keys, {"x-webhook-signature": sign_hex("other", BODY)})
    assert "does not match" in reason(keys, sw_headers(sw_sign(secret="whsec_" + "C" * 32)))


def test_rotation_header_with_old_and_new_signatures() -> None:
    """A sender signing with old and new keys passes a receiver that only has the new one."""
    keys = parse_secrets("whsec_" + "B" * 32)
    header = f"{sw_sign()} {sw_sign(secret='whsec_' + 'B' * 32)}"
    assert verify(keys, sw_headers(header), BODY, now=NOW).scheme == STANDARD_SCHEME


@pytest.mark.parametrize(
    ("secrets", "headers", "expected"),
    [
        ("", {"x-webhook-signature": GOOD_HEX}, "no webhook secret configured"),
        (WHSEC, {"x-webhook-signature": GOOD_HEX}, "no plain secret configured"),
        (PLAIN, sw_headers(sw_sign()), "no whsec_ secret configured"),
    ],
)
def test_scheme_needs_its_kind_of_secret(
    secrets: str, headers: dict[str, str], expected: str
) -> None:
    """A plain secret is never a Standard Webhooks key, nor a whsec_ secret a hex key."""
    assert expected in reason(parse_secrets(secrets), headers)


def test_both_headers_prefer_standard_webhooks_without_fallback() -> None:
    """With both headers and both keys, Standard Webhooks decides; a failure is final."""
    both = {**sw_headers(sw_sign()), "x-webhook-signature": GOOD_HEX}
    assert verify(KEYS, both, BODY, now=NOW).scheme == STANDARD_SCHEME
    broken = {**sw_headers("v1," + "A" * 43 + "="), "x-webhook-signature": GOOD_HEX}
    assert reason(KEYS, broken) == "signature does not match"
    only_plain = parse_secrets(PLAIN)
    assert verify(only_plain, both, BODY, now=NOW).scheme == HEX_SCHEME


def test_starlette_headers_are_case_insensitive() -> None:
    """Real request headers answer the lower-case names whatever the sender's case."""
    sent = {"Webhook-Id": "msg_1", "WEBHOOK-TIMESTAMP": str(int(NOW.timestamp()))}
    sent["Webhook-Signature"] = sw_sign()
    assert verify(KEYS, Headers(headers=sent), BODY, now=NOW).key == "msg_1"


def test_spaces_around_signature_entries_are_tolerated() -> None:
    """Empty entries of the space-delimited list (double or trailing spaces) are skipped."""
    header = f" v2,abc  {sw_sign()} "
    assert verify(KEYS, sw_headers(header), BODY, now=NOW).key == "msg_1"


@pytest.mark.parametrize(
    ("raw", "hex_count", "standard_count"),
    [
        (None, 0, 0),
        ("", 0, 0),
        ("   \n ", 0, 0),
        ("a", 1, 0),
        ("a a b", 2, 0),
        (f"{WHSEC} {WHSEC}", 0, 1),
        (f"a\n{WHSEC}\tb", 2, 1),
    ],
)
def test_parse_secrets(raw: str | None, hex_count: int, standard_count: int) -> None:
    """Whitespace-separated, deduplicated, sorted by kind."""
    keys = parse_secrets(raw)
    assert (len(keys.hex_keys), len(keys.standard_keys)) == (hex_count, standard_count)
    assert keys.configured is bool(hex_count or standard_count)


@pytest.mark.parametrize("secret", ["whsec_", "whsec_A", "whsec_!!!!", "whsec_test_secret"])
def test_bad_whsec_secret_is_a_config_error_without_the_secret(secret: str) -> None:
    """A whsec_ secret that is not base64 fails at start-up, and the message hides it."""
    with pytest.raises(ConfigError) as caught:
        parse_secrets(f"plain {secret}")
    message = str(caught.value)
    assert "entry 2" in message
    hidden = secret.removeprefix("whsec_")
    assert not hidden or hidden not in message.replace("whsec_", "")


def test_keys_are_never_shown() -> None:
    """The repr of the parsed keys carries no key material."""
    text = repr(KEYS)
    assert PLAIN not in text
    assert "MfKQ" not in text
    assert KEYS.schemes == (HEX_SCHEME, STANDARD_SCHEME)


def test_standard_signature_matches_manual_hmac() -> None:
    """The signed content is ``id.timestamp.body``."""
    key = KEYS.standard_keys[0]
    manual = hmac.new(key, b"msg_1.5." + BODY, hashlib.sha256).digest()
    assert standard_signature(key, "msg_1", 5, BODY) == base64.b64encode(manual).decode()


@given(
    signature=st.text(max_size=120),
    msg_id=st.text(max_size=20),
    stamp=st.text(max_size=20),
    hex_header=st.text(max_size=80),
)
def test_arbitrary_headers_only_raise_signature_error(
    signature: str, msg_id: str, stamp: str, hex_header: str
) -> None:
    """Whatever the headers hold, the only failure is a SignatureError (no ValueError leaks)."""
    for headers in (
        {"webhook-signature": signature, "webhook-id": msg_id, "webhook-timestamp": stamp},
        {"x-webhook-signature": hex_header},
    ):
        with pytest.raises(SignatureError, match=r"\w"):
            verify(KEYS, headers, BODY, now=NOW)


def test_six_minute_skew_on_the_clock_side() -> None:
    """The same delivery passes now and is refused by a clock six minutes later."""
    headers = sw_headers(sw_sign())
    assert verify(KEYS, headers, BODY, now=NOW)
    with pytest.raises(SignatureError, match="too old"):
        verify(KEYS, headers, BODY, now=NOW + timedelta(minutes=6))
    with pytest.raises(SignatureError, match="too new"):
        verify(KEYS, headers, BODY, now=NOW - timedelta(minutes=6))
