"""The sla-engine's Kafka shell: journal each new event once, then let the keeper (ticket
clocks) and the outage tracker (availability) apply it, all in one transaction."""

from __future__ import annotations

from fastapi import FastAPI

from pacta.db import claim_events
from pacta.events import MonitoringEvent, TicketEvent
from pacta.kafka import BatchHandler, Record, decode_events
from pacta.logs import get_logger
from sla_engine import store
from sla_engine.metrics import EVENTS_APPLIED

log = get_logger(__name__)


def make_handler(app: FastAPI) -> BatchHandler:
    async def handle(records: list[Record]) -> None:
        events = [e for e in decode_events(records) if isinstance(e, MonitoringEvent | TicketEvent)]
        keeper = app.state.keeper
        outages = getattr(app.state, "outages", None)
        touched: list[str] = []
        try:
            async with app.state.engine.begin() as conn:
                new = await claim_events(conn, store.SCHEMA, [e.id for e in events if e.id])
                fresh = [e for e in events if e.id in new]
                tickets = [e for e in fresh if isinstance(e, TicketEvent)]
                monitoring = [e for e in fresh if isinstance(e, MonitoringEvent)]
                bodies = await store.journal_tickets(conn, events=tickets)
                await store.journal_monitoring(conn, events=monitoring)
                touched = sorted({e.ticket_id for e in tickets})
                await keeper.apply_tickets(conn, tickets, bodies)
                if outages is not None and monitoring:
                    await outages.apply(conn, monitoring)
        except Exception:
            keeper.evict(touched)
            raise
        keeper.committed(touched)
        if outages is not None:
            outages.committed()
        EVENTS_APPLIED.labels("ticket").inc(len(tickets))
        EVENTS_APPLIED.labels("monitoring").inc(len(monitoring))
        if fresh:
            log.info("events applied", ids=[e.id for e in fresh][:20], count=len(fresh))

    return handle
