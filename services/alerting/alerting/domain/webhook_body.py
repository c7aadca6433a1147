"""The webhook body and signature (docs/alerting.md): `sha256=` hex HMAC-SHA256 over `<timestamp>.<body>`."""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from typing import Any

import orjson


def body(status: str, group_key: str, alerts: Sequence[Mapping[str, Any]]) -> bytes:
    return orjson.dumps(
        {"version": "1", "status": status, "group_key": group_key, "alerts": list(alerts)}
    )


def signature(secret: str, timestamp: str, payload: bytes) -> str:
    # the one-shot digest (a notification each): same bytes as hmac.new(...).hexdigest()
    mac = hmac.digest(secret.encode(), timestamp.encode() + b"." + payload, "sha256")
    return "sha256=" + mac.hex()
