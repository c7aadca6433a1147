"""Sign-in for the overview page: a read key checked once, then a signed session cookie
(HttpOnly, SameSite=Strict) that names the key by a hash, never the key itself."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from fastapi import Request

from pacta.auth import authenticate
from pacta.settings import Role

COOKIE = "pacta_session"
LIFETIME_S = 12 * 3600


def _secret(keys: dict[str, Role]) -> bytes:
    # derived from the configured keys: every instance agrees, and rotating the keys ends
    # every session (there is no separate secret to forget)
    return hashlib.sha256(("pacta-session:" + ",".join(sorted(keys))).encode()).digest()


def _key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def issue(keys: dict[str, Role], key: str, now_s: int) -> str:
    payload = f"{_key_id(key)}.{now_s + LIFETIME_S}"
    mac = hmac.new(_secret(keys), payload.encode(), hashlib.sha256).digest()
    return payload + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def verify(keys: dict[str, Role], cookie: str, now_s: int) -> bool:
    parts = cookie.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    payload = f"{parts[0]}.{parts[1]}"
    mac = hmac.new(_secret(keys), payload.encode(), hashlib.sha256).digest()
    expected = base64.urlsafe_b64encode(mac).decode().rstrip("=")
    if not hmac.compare_digest(expected, parts[2]) or int(parts[1]) < now_s:
        return False
    return any(hmac.compare_digest(_key_id(k), parts[0]) for k in keys)


def signed_in(request: Request) -> bool:
    cookie = request.cookies.get(COOKIE)
    return cookie is not None and verify(request.app.state.api_keys, cookie, int(time.time()))


async def reader(request: Request) -> str:
    """A valid key in the headers, or a valid session cookie (the pages link to reports)."""
    if signed_in(request):
        return "session"
    return authenticate(request, "read")
