"""What the pipeline stages share: the live configuration, the link key and the settings that
shape notifications (one object, built in the lifespan)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from alerting.domain import links
from alerting.domain.alerts import Alert
from alerting.live import LiveConfig


@dataclass
class Context:
    live: LiveConfig
    link_secret: bytes
    public_url: str = "http://127.0.0.1:8003"
    link_ttl_ms: int = 7 * 86_400_000
    dispatch_wake: asyncio.Event = field(default_factory=asyncio.Event)
    delivery_wake: asyncio.Event = field(default_factory=asyncio.Event)
    # the delivery worker of this process: how many rows it would take now for a receiver,
    # and where rows leased to it in a committed transaction go (set in the lifespan)
    delivery_room: Callable[[str], int] = lambda receiver: 0
    delivery_start: Callable[[Sequence[Any]], None] = lambda rows: None

    def ack_url(self, alert_id: str, now_ms: int) -> str:
        token = links.sign(self.link_secret, alert_id, now_ms + self.link_ttl_ms)
        return f"{self.public_url.rstrip('/')}/v1/ack/{token}"

    def entry(self, alert: Alert, state: str, now_ms: int) -> dict[str, Any]:
        """One `alerts` entry of a notification: the signal's fields, alert_id, state, ack_url."""
        return {
            **alert.signal.model_dump(mode="json"),
            "alert_id": alert.id,
            "state": state,
            "ack_url": self.ack_url(alert.id, now_ms),
        }
