"""Acknowledge-link tokens and the webhook signature."""

from __future__ import annotations

import hashlib
import hmac

from alerting.domain import links
from alerting.domain.webhook_body import body, signature


def test_a_link_acknowledges_its_alert_until_it_expires() -> None:
    token = links.sign(b"k", "al-1", 10_000)
    assert links.verify(b"k", token, 9_999) == "al-1"
    assert links.verify(b"k", token, 10_000) is None
    assert links.verify(b"other", token, 0) is None


def test_a_tampered_link_is_refused() -> None:
    token = links.sign(b"k", "al-1", 10_000)
    alert, expires, mac = token.split(".")
    assert links.verify(b"k", f"al-2.{expires}.{mac}", 0) is None
    assert links.verify(b"k", f"{alert}.99999999.{mac}", 0) is None
    assert links.verify(b"k", "garbage", 0) is None


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    payload = body("firing", "g", [{"alert_id": "a"}])
    expected = hmac.new(b"s3cret", b"1700000000." + payload, hashlib.sha256).hexdigest()
    assert signature("s3cret", "1700000000", payload) == "sha256=" + expected
