"""Kafka records of the ingest: the model's JSON as value, CloudEvents headers, the key."""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka.partitioner import DefaultPartitioner, murmur2

from ingest.api import identify
from ingest.parsing import parse_events
from ingest.publisher import Publisher
from pacta.events import MonitoringEvent, TicketEvent, cloudevent_headers

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
BODY = (
    b'[{"id":"e1","service":"checkout","check":"http","status":"firing",'
    b'"occurred_at":"2026-06-15T11:00:00+02:00","source":"prom"},'
    b'{"service":"checkout","check":"http","status":"resolved","occurred_at":"2026-06-15T11:59:00Z"}]'
)


def test_identify_sets_ids_and_receipt_time_like_with_identity() -> None:
    events = parse_events(BODY, "monitoring", now=NOW, max_batch=10)
    expected = [
        e.with_identity(NOW) for e in parse_events(BODY, "monitoring", now=NOW, max_batch=10)
    ]
    identify(events, NOW)
    assert [e.model_dump() for e in events] == [e.model_dump() for e in expected]
    assert events[0].id == "e1"
    assert (events[1].id or "").startswith("sha256-")


def test_headers_are_the_cloudevents_binding() -> None:
    events = parse_events(BODY, "monitoring", now=NOW, max_batch=10)
    identify(events, NOW)
    publisher = Publisher("p")
    topic, ce_type = publisher.kinds[MonitoringEvent]
    assert topic == "p.events.monitoring"
    event = events[0]
    assert event.id is not None
    assert publisher.headers(event, ce_type, b"checkout") == cloudevent_headers(
        event_id=event.id,
        ce_type="io.pacta.monitoring",
        source="/pacta/ingest/prom",
        time=event.occurred_at,
        key="checkout",
    )
    assert publisher.kinds[TicketEvent] == ("p.events.tickets", b"io.pacta.ticket")


def test_the_partition_formula_is_aiokafkas_default() -> None:
    parts = list(range(6))
    for n in range(200):
        key = f"svc-{n}".encode()
        assert parts[(murmur2(key) & 0x7FFFFFFF) % 6] == DefaultPartitioner()(key, parts, parts)
