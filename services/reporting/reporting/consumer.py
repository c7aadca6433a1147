"""Reporting's Kafka shell: events, signals, facts and calendars folded into the read model,
each record once (the inbox, in the same transaction as the read model's change)."""

from __future__ import annotations

import contextlib
import heapq
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import repeat
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from pacta.db import claim_events
from pacta.events import (
    ALL_TOPICS,
    CALENDARS_TOPIC,
    FACTS_TOPIC,
    MONITORING_TOPIC,
    POLICIES_TOPIC,
    REPORTS_TOPIC,
    SIGNALS_TOPIC,
    TICKETS_TOPIC,
    CalendarRecord,
    PolicyRecord,
    Signal,
)
from pacta.kafka import BatchHandler, Record
from pacta.logs import get_logger
from reporting import store, store_days, store_resources
from reporting.domain.ticket_life import TicketEventView
from reporting.metrics import RECORDS_APPLIED
from reporting.records import decode_ticket, monitoring_service

log = get_logger(__name__)
_FACT_KINDS = ("clock", "availability")
TOPICS = tuple(t for t in ALL_TOPICS if t != REPORTS_TOPIC)
"""Reporting reads every topic but its own: events, signals, facts, calendars and policies."""


@lru_cache(maxsize=256)
def _suffix(topic: str) -> str | None:
    # asked for every record; a process sees a handful of topic names
    for suffix in TOPICS:
        if topic == suffix or topic.endswith("." + suffix):
            return suffix
    return None


@dataclass
class Decoded:
    """A batch's records parsed and checked, before any of it touches the database."""

    services: set[str] = field(default_factory=set)
    tickets: list[TicketEventView] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    facts: list[dict[str, Any]] = field(default_factory=list)
    calendars: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    policies: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    applied: Counter[str] = field(default_factory=Counter)
    topics: dict[str, str] = field(default_factory=dict)
    clocks: dict[tuple[str, str], store.PreparedClock] = field(default_factory=dict)
    """Clock facts prepared before the transaction (`prepare_clocks`), by clock."""

    def extend(self, later: Decoded) -> None:
        """`later` decoded from the records after these (a calendar's or policy's newest
        record wins)."""
        self.services |= later.services
        self.tickets += later.tickets
        self.signals += later.signals
        self.facts += later.facts
        self.calendars.update(later.calendars)
        self.policies.update(later.policies)
        self.applied.update(later.applied)
        self.topics.update(later.topics)
        self.clocks.update(later.clocks)


def prepare_clocks(d: Decoded, step: int) -> Iterator[None]:
    """Prepare each clock's newest fact in the batch ahead of its transaction, pausing after
    every `step` (the rebuild lets PostgreSQL's apply of the previous batch go on meanwhile,
    which keeps this work out of the time a batch holds PostgreSQL). A fact that cannot be
    prepared is left to the transaction, which fails on it as it always did."""
    newest: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
    for fact in d.facts:
        try:
            if fact["fact"] == "clock":
                key, version = (fact["ticket_id"], fact["metric"]), int(fact["version"])
                have = newest.get(key)
                if have is None or version > have[0]:
                    newest[key] = (version, fact)
        except (ValueError, KeyError, TypeError):
            continue
    for i, (key, (_, fact)) in enumerate(newest.items(), 1):
        with contextlib.suppress(ValueError, KeyError, TypeError):
            d.clocks[key] = store.prepare_clock(fact)
        if i % step == 0:
            yield


async def apply_records(engine: AsyncEngine, schema: str, records: list[Record]) -> None:
    """One transaction for the batch: what it claims in the inbox it applies."""
    await apply_decoded(engine, schema, decode_records(records))


def decode_records(records: list[Record]) -> Decoded:
    d = Decoded()
    services, tickets, signals, facts = d.services, d.tickets, d.signals, d.facts
    calendars, applied, topics = d.calendars, d.applied, d.topics
    for r in records:
        suffix = _suffix(r.topic)
        try:
            if suffix == MONITORING_TOPIC:
                # A monitoring event only names its service (downtime comes from the engine's
                # facts), and naming a known service again changes nothing: no inbox claim, so
                # a redelivered one is harmless and costs no inbox row.
                services.add(monitoring_service(r.value or b""))
                applied[r.topic] += 1
                continue
            if suffix == CALENDARS_TOPIC:
                name = (r.key or b"").decode()
                calendars[name] = (
                    None
                    if r.value is None
                    else CalendarRecord.model_validate_json(r.value).model_dump(mode="json")
                )
                applied[r.topic] += 1
                continue
            if suffix == POLICIES_TOPIC:
                policy = None if r.value is None else PolicyRecord.model_validate_json(r.value)
                # keyed by name; a record produced without a key still names its policy
                name = (r.key or b"").decode() or (policy.name if policy else "")
                d.policies[name] = None if policy is None else policy.model_dump(mode="json")
                applied[r.topic] += 1
                continue
            if suffix == TICKETS_TOPIC:
                ticket = decode_ticket(r.value or b"")
                tickets.append(ticket)
                topics[ticket.event_id] = r.topic
            elif suffix == SIGNALS_TOPIC:
                signal = Signal.model_validate_json(r.value or b"")
                signals.append(signal)
                topics[signal.signal_id] = r.topic
            elif suffix == FACTS_TOPIC:
                fact = orjson.loads(r.value or b"")
                if type(fact) is not dict or fact.get("fact") not in _FACT_KINDS:
                    continue  # a kind of fact reporting does not use
                if "fact_id" not in fact or "service" not in fact or "version" not in fact:
                    raise KeyError("fact_id")
                facts.append(fact)
                topics[str(fact["fact_id"])] = r.topic
        except (ValidationError, ValueError, KeyError, TypeError):
            log.error("undecodable record skipped", topic=r.topic, offset=r.offset)
    return d


async def apply_decoded(
    engine: AsyncEngine,
    schema: str,
    d: Decoded,
    known: set[str] | None = None,
    totals: store_days.DayTotals | None = None,
    *,
    claim_facts: bool = True,
) -> None:
    """Apply a decoded batch in one transaction: what it claims in the inbox it applies.

    `known` is the caller's memory of the services already written (it only ever grows: no
    path removes a service): a batch of monitoring events naming only those needs no
    transaction at all, which at a steady stream of monitoring events is most batches.
    `totals` holds the daily aggregates' changes back for the caller to write (a rebuild).
    `claim_facts=False` leaves the engine's facts out of the inbox (a rebuild's replay into its
    fresh schema): a fact changes the read model only when its version is newer than the one
    kept, so one that comes again changes nothing without an inbox row either, and the claim of
    a fact's id cost PostgreSQL more than the rest of the fact's writes."""
    services, tickets, signals, facts = set(d.services), d.tickets, d.signals, d.facts
    calendars, applied, topics = d.calendars, d.applied, d.topics
    if known is not None:
        services -= known
        if not (services or tickets or signals or facts or calendars or d.policies):
            _count(applied)
            return
    ids = [t.event_id for t in tickets] + [s.signal_id for s in signals]
    if claim_facts:
        ids += [f["fact_id"] for f in facts]
    async with engine.begin() as conn:
        new = await claim_events(conn, schema, ids)
        tickets = [t for t in tickets if t.event_id in new]
        signals = [s for s in signals if s.signal_id in new]
        if claim_facts:
            facts = [f for f in facts if f["fact_id"] in new]
        else:
            # applied, as far as the counts go, like a claimed one (the version decides)
            new |= {f["fact_id"] for f in facts}
        services |= {t.service for t in tickets} | {s.service for s in signals}
        services |= {f["service"] for f in facts}
        await store.add_services(conn, schema, services)
        await store.apply_ticket_events(conn, schema, tickets, totals)
        await store.apply_signals(conn, schema, signals)
        await store.apply_clock_facts(
            conn, schema, [f for f in facts if f["fact"] == "clock"], totals, d.clocks
        )
        await store.apply_availability_facts(
            conn, schema, [f for f in facts if f["fact"] == "availability"]
        )
        for name, body in calendars.items():
            await store_resources.put_calendar(conn, schema, name, body)
        for name, body in d.policies.items():
            await store_resources.put_policy(conn, schema, name, body)
    if known is not None:
        known |= services  # committed: later batches need not write them again
    # counted in C (map and Counter), not a Python step per record
    applied.update(map(topics.get, new, repeat("unknown")))
    _count(applied)
    if new:
        log.info("records applied", count=len(new), ids=heapq.nsmallest(10, new))


def _count(applied: Counter[str]) -> None:
    for topic, count in applied.items():
        RECORDS_APPLIED.labels(topic).inc(count)


def make_handler(engine: AsyncEngine, schema: str = store.SCHEMA) -> BatchHandler:
    known: set[str] = set()

    async def handle(records: list[Record]) -> None:
        await apply_decoded(engine, schema, decode_records(records), known)

    return handle
