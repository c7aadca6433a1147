"""HMAC-SHA256 with each key's setup done once: a notification signs its body and a link per
alert, always with the same few keys."""

from __future__ import annotations

import hashlib
import hmac

_KEYED: dict[bytes, hmac.HMAC] = {}
_KEYS_KEPT = 64  # keys are the link key and the receivers' secrets: a few


def sha256(key: bytes, message: bytes) -> bytes:
    """The HMAC-SHA256 of `message` under `key` (the bytes of `hmac.digest(key, message,
    "sha256")`), from a copy of the key's HMAC set up once: the one-shot digest sets the key
    up again each call, more than half of a short message's cost."""
    keyed = _KEYED.get(key)
    if keyed is None:
        if len(_KEYED) >= _KEYS_KEPT:
            _KEYED.clear()  # secrets replaced many times over: start again
        keyed = _KEYED[key] = hmac.new(key, digestmod=hashlib.sha256)
    mac = keyed.copy()
    mac.update(message)
    return mac.digest()
