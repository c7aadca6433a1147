"""The webhook body and signature (docs/alerting.md): `sha256=` hex HMAC-SHA256 over `<timestamp>.<body>`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from alerting.domain import hmacs


def body(status: str, group_key: str, alerts: Sequence[Mapping[str, Any]]) -> bytes:
    return orjson.dumps(
        {"version": "1", "status": status, "group_key": group_key, "alerts": list(alerts)}
    )


def signature(secret: str, timestamp: str, payload: bytes) -> str:
    # a notification each, the receiver's key set up once: same bytes as hmac.new(...).hexdigest()
    mac = hmacs.sha256(secret.encode(), timestamp.encode() + b"." + payload)
    return "sha256=" + mac.hex()
