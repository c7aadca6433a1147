"""The sla-engine's Kafka shell: decode event records, apply each new one exactly once."""

from __future__ import annotations

from fastapi import FastAPI
from pacta.db import claim_events
from pacta.events import MonitoringEvent, Signal, TicketEvent
from pacta.kafka import BatchHandler, Record, decode_events
from pacta.logs import get_logger

from sla_engine import store

log = get_logger(__name__)


def make_handler(app: FastAPI) -> BatchHandler:
    async def handle(records: list[Record]) -> None:
        events = [e for e in decode_events(records) if not isinstance(e, Signal)]
        async with app.state.engine.begin() as conn:
            new = await claim_events(conn, store.SCHEMA, [e.id for e in events if e.id])
            fresh = [e for e in events if e.id in new]
            await store.journal_tickets(
                conn, events=[e for e in fresh if isinstance(e, TicketEvent)]
            )
            await store.journal_monitoring(
                conn, events=[e for e in fresh if isinstance(e, MonitoringEvent)]
            )
        if fresh:
            log.info("events applied", ids=[e.id for e in fresh][:20], count=len(fresh))

    return handle
