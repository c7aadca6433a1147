"""Optional per-key HMAC-SHA256 body signatures (docs/api.md): a timestamp, a window, a replay guard.

A sender whose API key has a secret signs the bytes `b"<timestamp>." + raw body` and sends
`X-Pacta-Signature: sha256=<hex>` with `X-Pacta-Timestamp: <unix seconds>` (Stripe's shape).
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import time
from collections.abc import Callable

SIGNATURE_HEADER = "x-pacta-signature"
TIMESTAMP_HEADER = "x-pacta-timestamp"


class SignatureError(Exception):
    """Why a request was refused; the message is the problem document's detail."""


def parse_secrets(text: str) -> dict[str, list[bytes]]:
    """Parse `key:secret,key:secret`. A key listed twice has two valid secrets (rotation).

    The last colon separates, as in PACTA_API_KEYS, so API keys may hold colons, secrets not.
    """
    secrets: dict[str, list[bytes]] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key, sep, secret = pair.rpartition(":")
        if not sep or not key or not secret:
            raise ValueError("PACTA_INGEST_HMAC_SECRETS: an entry is not api-key:secret")
        secrets.setdefault(key, []).append(secret.encode())
    return secrets


def sign(secret: bytes, timestamp: int | str, body: bytes) -> str:
    """The header value a sender computes (also what the tests use)."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class SignatureGuard:
    """Checks signatures of the keys that have a secret; other keys pass untouched.

    A valid signature is accepted once: it is remembered until its timestamp leaves the window,
    so a captured request cannot be replayed inside the window either. `release` forgets one
    again when the request was not processed (429, 503), so the sender may retry it as it was.
    """

    def __init__(
        self,
        secrets: dict[str, list[bytes]],
        window: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.window, self.clock = window, clock
        self._secrets = secrets
        self._seen: dict[bytes, float] = {}  # signature -> when it leaves the window
        self._expiry: list[tuple[float, bytes]] = []

    def verify(
        self, key: str, body: bytes, signature: str | None, timestamp: str | None
    ) -> bytes | None:
        """Return the claimed signature (for `release`), None if `key` signs nothing; raise
        SignatureError when the request must be refused."""
        secrets = self._secrets.get(key)
        if secrets is None:
            return None
        if not signature or not timestamp:
            raise SignatureError(
                "this API key must sign its requests: X-Pacta-Signature and X-Pacta-Timestamp"
            )
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            raise SignatureError("X-Pacta-Timestamp must be unix seconds")
        now, sent = self.clock(), int(timestamp)
        if abs(now - sent) > self.window:
            raise SignatureError(
                f"X-Pacta-Timestamp is more than {self.window:g}s away from the server's clock"
            )
        given = _digest(signature)
        payload = timestamp.encode() + b"." + body
        if not any(
            hmac.compare_digest(hmac.new(s, payload, hashlib.sha256).digest(), given)
            for s in secrets
        ):
            raise SignatureError(
                "X-Pacta-Signature does not match: sign '<timestamp>.<raw body>' with "
                "HMAC-SHA256, over the exact bytes sent"
            )
        self._forget_expired(now)
        if given in self._seen:
            raise SignatureError("this signature was already used (replay refused)")
        expires = sent + self.window
        self._seen[given] = expires
        heapq.heappush(self._expiry, (expires, given))
        return given

    def release(self, claimed: bytes) -> None:
        self._seen.pop(claimed, None)

    def _forget_expired(self, now: float) -> None:
        while self._expiry and self._expiry[0][0] < now:
            expires, sig = heapq.heappop(self._expiry)
            if self._seen.get(sig) == expires:
                del self._seen[sig]

    def __len__(self) -> int:
        return len(self._seen)


def _digest(header: str) -> bytes:
    scheme, _, hexdigest = header.strip().partition("=")
    try:
        digest = bytes.fromhex(hexdigest)
    except ValueError:
        digest = b""
    if scheme.lower() != "sha256" or len(digest) != hashlib.sha256().digest_size:
        raise SignatureError("X-Pacta-Signature must be sha256=<64 hex digits>")
    return digest
