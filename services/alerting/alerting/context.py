"""The alerting service's wiring: one typed object built in the lifespan and shared by the
pipeline stages, the timers, the delivery worker and the routes (as the `deps.Ctx` dependency)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from alerting.calendar_feed import CalendarFeed
from alerting.domain import links
from alerting.domain.alerts import Alert, signal_body
from alerting.live import LiveConfig
from alerting.settings import AlertingSettings
from alerting.store.deliveries import DeliveryRow


def _no_room(receiver: str) -> int:
    return 0


def _start_nothing(rows: Sequence[DeliveryRow]) -> None:
    return None


@dataclass
class Context:
    engine: AsyncEngine
    settings: AlertingSettings
    live: LiveConfig
    link_secret: bytes
    public_url: str = "http://127.0.0.1:8003"
    link_ttl_ms: int = 7 * 86_400_000
    # the engine's calendars as this process follows them (None: not followed, names unchecked)
    calendar_feed: CalendarFeed | None = None
    dispatch_wake: asyncio.Event = field(default_factory=asyncio.Event)
    # the instant the timers (dispatcher.run) sleep until; None while they run a round
    dispatch_asleep_until_ms: int | None = None
    delivery_wake: asyncio.Event = field(default_factory=asyncio.Event)
    # the delivery worker of this process: how many rows it would take now for a receiver,
    # and where rows leased to it in a committed transaction go (set once the worker exists)
    delivery_room: Callable[[str], int] = _no_room
    delivery_start: Callable[[Sequence[DeliveryRow]], None] = _start_nothing

    @property
    def calendars_known(self) -> bool:
        """Whether every calendar of the engine has been read (names can be checked)."""
        return self.calendar_feed is None or self.calendar_feed.caught_up.is_set()

    def wake(self) -> None:
        """Something was committed that the timers and the delivery worker act on."""
        self.delivery_wake.set()
        self.dispatch_wake.set()

    def dispatcher_late_for(self, at_ms: int | None) -> bool:
        """Whether the timers, as they sleep now, would take up something due at `at_ms` late
        (while they run a round, a wake is kept for after it: they may not have seen it)."""
        if at_ms is None:
            return False
        until = self.dispatch_asleep_until_ms
        return until is None or at_ms < until

    def ack_url(self, alert_id: str, now_ms: int) -> str:
        token = links.sign(self.link_secret, alert_id, now_ms + self.link_ttl_ms)
        return f"{self.public_url.rstrip('/')}/v1/ack/{token}"

    def entry(self, alert: Alert, state: str, now_ms: int) -> dict[str, Any]:
        """One `alerts` entry of a notification: the signal's fields, alert_id, state, ack_url."""
        return {
            **signal_body(alert.signal),
            "alert_id": alert.id,
            "state": state,
            "ack_url": self.ack_url(alert.id, now_ms),
        }
