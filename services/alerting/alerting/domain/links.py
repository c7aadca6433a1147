"""One-click acknowledge links: a token naming one alert and its expiry, signed with HMAC, so
the link needs no API key and can do nothing but acknowledge that alert before it expires."""

from __future__ import annotations

import base64
import hmac

from alerting.domain import hmacs


def _mac(secret: bytes, alert_id: str, expires_ms: int) -> str:
    # a link per alert of every notification: the key set up once
    digest = hmacs.sha256(secret, f"ack\x00{alert_id}\x00{expires_ms}".encode())
    return base64.urlsafe_b64encode(digest[:20]).decode().rstrip("=")


def sign(secret: bytes, alert_id: str, expires_ms: int) -> str:
    return f"{alert_id}.{expires_ms}.{_mac(secret, alert_id, expires_ms)}"


def verify(secret: bytes, token: str, now_ms: int) -> str | None:
    """The alert id the token acknowledges, or None (forged, malformed or expired)."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 15:
        return None
    alert_id, expires, mac = parts[0], int(parts[1]), parts[2]
    if not hmac.compare_digest(mac.encode(), _mac(secret, alert_id, expires).encode()):
        return None
    return alert_id if now_ms < expires else None
