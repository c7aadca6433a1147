"""Reporting's Kafka shell: events, signals, facts and calendars folded into the read model,
each record once (the inbox, in the same transaction as the read model's change)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from pacta.db import claim_events
from pacta.durations import datetime_to_ms
from pacta.events import (
    CALENDARS_TOPIC,
    FACTS_TOPIC,
    MONITORING_TOPIC,
    SIGNALS_TOPIC,
    TICKETS_TOPIC,
    CalendarRecord,
    MonitoringEvent,
    Signal,
    TicketEvent,
)
from pacta.kafka import BatchHandler, Record
from pacta.logs import get_logger
from reporting import store
from reporting.domain.ticket_life import TicketEventView
from reporting.metrics import RECORDS_APPLIED

log = get_logger(__name__)
TOPICS = (MONITORING_TOPIC, TICKETS_TOPIC, SIGNALS_TOPIC, FACTS_TOPIC, CALENDARS_TOPIC)


def _suffix(topic: str) -> str | None:
    for suffix in TOPICS:
        if topic == suffix or topic.endswith("." + suffix):
            return suffix
    return None


def _record_id(suffix: str, value: bytes | None) -> str:
    body = orjson.loads(value or b"")
    if suffix == TICKETS_TOPIC:
        return str(body["id"])
    return str(body["signal_id"] if suffix == SIGNALS_TOPIC else body["fact_id"])


def ticket_view(e: TicketEvent) -> TicketEventView:
    return TicketEventView(
        event_id=str(e.id),
        occurred_ms=datetime_to_ms(e.occurred_at),
        ticket_id=e.ticket_id,
        service=e.service,
        type=e.type,
        action=e.action,
        priority=e.priority,
        outcome=e.outcome,
    )


async def apply_records(engine: AsyncEngine, schema: str, records: list[Record]) -> None:
    """One transaction for the batch: what it claims in the inbox it applies."""
    services: set[str] = set()
    tickets: list[TicketEvent] = []
    signals: list[Signal] = []
    facts: list[dict[str, Any]] = []
    calendars: dict[str, dict[str, Any] | None] = {}
    applied: Counter[str] = Counter()
    topics: dict[str, str] = {}
    for r in records:
        suffix = _suffix(r.topic)
        try:
            if suffix == MONITORING_TOPIC:
                services.add(MonitoringEvent.model_validate_json(r.value or b"").service)
            elif suffix == TICKETS_TOPIC:
                tickets.append(TicketEvent.model_validate_json(r.value or b""))
            elif suffix == SIGNALS_TOPIC:
                signals.append(Signal.model_validate_json(r.value or b""))
            elif suffix == FACTS_TOPIC:
                fact = orjson.loads(r.value or b"")
                if fact.get("fact") in ("clock", "availability"):
                    facts.append(fact)
            elif suffix == CALENDARS_TOPIC:
                name = (r.key or b"").decode()
                calendars[name] = (
                    None
                    if r.value is None
                    else CalendarRecord.model_validate_json(r.value).model_dump(mode="json")
                )
            else:
                continue
            if suffix in (MONITORING_TOPIC, CALENDARS_TOPIC):
                applied[r.topic] += 1  # idempotent upserts: no inbox id
            else:
                topics[_record_id(suffix, r.value)] = r.topic
        except (ValidationError, ValueError, KeyError):
            log.error("undecodable record skipped", topic=r.topic, offset=r.offset)
    ids = (
        [str(t.id) for t in tickets]
        + [s.signal_id for s in signals]
        + [f["fact_id"] for f in facts]
    )
    async with engine.begin() as conn:
        new = await claim_events(conn, schema, ids)
        tickets = [t for t in tickets if str(t.id) in new]
        signals = [s for s in signals if s.signal_id in new]
        facts = [f for f in facts if f["fact_id"] in new]
        services |= {t.service for t in tickets} | {s.service for s in signals}
        services |= {f["service"] for f in facts}
        await store.add_services(conn, schema, services)
        await store.apply_ticket_events(conn, schema, [ticket_view(t) for t in tickets])
        await store.apply_signals(conn, schema, signals)
        await store.apply_clock_facts(conn, schema, [f for f in facts if f["fact"] == "clock"])
        await store.apply_availability_facts(
            conn, schema, [f for f in facts if f["fact"] == "availability"]
        )
        for name, body in calendars.items():
            await store.put_calendar(conn, schema, name, body)
    for record_id in new:
        applied[topics.get(record_id, "unknown")] += 1
    for topic, count in applied.items():
        RECORDS_APPLIED.labels(topic).inc(count)
    if new:
        log.info("records applied", count=len(new), ids=sorted(new)[:10])


def make_handler(engine: AsyncEngine, schema: str = store.SCHEMA) -> BatchHandler:
    async def handle(records: list[Record]) -> None:
        await apply_records(engine, schema, records)

    return handle
