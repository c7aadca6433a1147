"""The engine's wiring: one typed object built in the lifespan, holding what the consumer, the
timers and the routes share (the database, the registry, the keeper, the outage tracker, the
relay). Routes receive it as the `Context` dependency (`api.deps`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from sla_engine.availability.tracker import OutageTracker
from sla_engine.clocks.keeper import ClockKeeper
from sla_engine.kafka.outbox import Relay
from sla_engine.resources.registry import Registry
from sla_engine.settings import EngineSettings


@dataclass(frozen=True)
class EngineContext:
    settings: EngineSettings
    db: AsyncEngine
    registry: Registry  # replaced in place (`replace_with`), so every holder sees the same
    keeper: ClockKeeper
    outages: OutageTracker
    relay: Relay
