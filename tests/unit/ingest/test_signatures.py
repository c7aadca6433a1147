"""HMAC body signatures: the window, the replay guard and the refusals, on a fake clock."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ingest.settings import IngestSettings
from ingest.signatures import SignatureError, SignatureGuard, parse_secrets, sign

SECRET = b"s3cret"
BODY = b'{"service":"checkout","check":"http","status":"firing"}'
T0 = 1_750_000_000


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def guard(clock: FakeClock | None = None, **secrets: list[bytes]) -> SignatureGuard:
    return SignatureGuard(secrets or {"key": [SECRET]}, window=300, clock=clock or FakeClock())


def test_a_valid_signature_is_accepted_once() -> None:
    g = guard()
    claimed = g.verify("key", BODY, sign(SECRET, T0, BODY), str(T0))
    assert claimed is not None
    with pytest.raises(SignatureError, match="already used"):
        g.verify("key", BODY, sign(SECRET, T0, BODY), str(T0))


def test_a_released_signature_may_be_sent_again() -> None:
    g = guard()
    claimed = g.verify("key", BODY, sign(SECRET, T0, BODY), str(T0))
    assert claimed is not None
    g.release(claimed)  # the request was answered 429 or 503, so it was never processed
    assert g.verify("key", BODY, sign(SECRET, T0, BODY), str(T0)) == claimed


def test_keys_without_a_secret_are_not_checked() -> None:
    assert guard().verify("other", BODY, None, None) is None


@pytest.mark.parametrize(
    ("signature", "timestamp", "reason"),
    [
        (None, str(T0), "must sign"),
        ("sha256=" + "0" * 64, None, "must sign"),
        ("", "", "must sign"),
        ("sha256=" + "0" * 64, str(T0), "does not match"),
        (sign(b"wrong", T0, BODY), str(T0), "does not match"),
        (sign(SECRET, T0, BODY + b" "), str(T0), "does not match"),
        (sign(SECRET, T0 - 1, BODY), str(T0), "does not match"),  # the timestamp is signed
        (sign(SECRET, T0, BODY).replace("sha256", "sha1"), str(T0), "sha256=<64 hex"),
        ("sha256=xyz", str(T0), "sha256=<64 hex"),
        ("sha256=" + "ab" * 16, str(T0), "sha256=<64 hex"),
        (sign(SECRET, T0, BODY), "1.7e9", "unix seconds"),
        (sign(SECRET, T0, BODY), "-1", "unix seconds"),
        (sign(SECRET, T0, BODY), "١٢٣", "unix seconds"),  # Arabic-Indic digits
        (sign(SECRET, T0, BODY), "9" * 40, "unix seconds"),
        (sign(SECRET, T0 - 301, BODY), str(T0 - 301), "away from the server's clock"),
        (sign(SECRET, T0 + 301, BODY), str(T0 + 301), "away from the server's clock"),
    ],
)
def test_refusals(signature: str | None, timestamp: str | None, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        guard().verify("key", BODY, signature, timestamp)


def test_the_window_edges_are_inclusive() -> None:
    g = guard()
    for ts in (T0 - 300, T0 + 300):
        assert g.verify("key", BODY, sign(SECRET, ts, BODY), str(ts)) is not None


def test_either_secret_verifies_while_rotating() -> None:
    g = guard(key=[b"old", b"new"])
    assert g.verify("key", BODY, sign(b"old", T0, BODY), str(T0)) is not None
    assert g.verify("key", BODY, sign(b"new", T0, BODY), str(T0)) is not None


def test_remembered_signatures_are_forgotten_once_out_of_the_window() -> None:
    clock = FakeClock()
    g = guard(clock)
    for n in range(10):
        body = BODY + b" " * n
        g.verify("key", body, sign(SECRET, T0, body), str(T0))
    assert len(g) == 10
    clock.now = T0 + 301  # every one of them is now refused by its timestamp anyway
    late = T0 + 301
    g.verify("key", BODY, sign(SECRET, late, BODY), str(late))
    assert len(g) == 1
    with pytest.raises(SignatureError, match="away"):
        g.verify("key", BODY, sign(SECRET, T0, BODY), str(T0))


def test_parse_secrets() -> None:
    assert parse_secrets("") == {}
    assert parse_secrets(" a:1 , b:2,a:3 ,") == {"a": [b"1", b"3"], "b": [b"2"]}
    assert parse_secrets("key:with:colon:s") == {"key:with:colon": [b"s"]}
    for bad in ("nocolon", ":secret", "key:"):
        with pytest.raises(ValueError, match="api-key:secret"):
            parse_secrets(bad)


def test_settings_refuse_secrets_for_unknown_keys() -> None:
    ok = IngestSettings(api_keys="k1:ingest,k2:admin", ingest_hmac_secrets="k1:topsecret")
    assert ok.hmac_secrets() == {"k1": [b"topsecret"]}
    assert "topsecret" not in repr(ok)  # kept out of logs and tracebacks
    with pytest.raises(ValidationError, match="not in PACTA_API_KEYS"):
        IngestSettings(api_keys="k1:ingest", ingest_hmac_secrets="k3:s")
