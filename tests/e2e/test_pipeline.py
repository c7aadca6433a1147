"""End to end: events posted over HTTP reach every consuming service exactly once."""

from __future__ import annotations

import uuid

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from pacta.events import SIGNALS_TOPIC, topic_name
from pacta.settings import CommonSettings
from tests.support.client import SLA_ENGINE_APPLIED, ago, poll_value, post
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.e2e


async def test_events_reach_engine_and_reporting_once(
    stack: dict[str, ServiceProcess], db: asyncpg.Connection
) -> None:
    ingest = stack["ingest"].url
    tag = uuid.uuid4().hex[:8]
    monitoring = {
        "id": f"mon-{tag}",
        "service": f"checkout-{tag}",
        "check": "http_5xx",
        "status": "firing",
        "severity": "critical",
        "occurred_at": ago(minutes=3),
        "labels": {"team": "payments"},
    }
    ticket = {
        "ticket_id": f"INC-{tag}",
        "service": f"checkout-{tag}",
        "priority": "P1",
        "action": "created",
        "status": "open",
        "occurred_at": ago(minutes=2),
    }
    r1 = post(ingest, "/v1/events/monitoring", monitoring)
    r2 = post(ingest, "/v1/events/tickets", ticket)
    assert r1.status_code == 202, r1.text
    assert r2.status_code == 202, r2.text
    assert r1.json() == {"accepted": 1, "duplicates": 0, "ids": [f"mon-{tag}"]}
    ticket_id = r2.json()["ids"][0]
    assert r2.json()["accepted"] == 1

    # A sender's retries: same id, and same content without an id, each count once.
    assert post(ingest, "/v1/events/monitoring", monitoring).json()["duplicates"] == 1
    assert post(ingest, "/v1/events/tickets", ticket).json() == {
        "accepted": 0,
        "duplicates": 1,
        "ids": [ticket_id],
    }

    # reporting keeps the ids of ticket events only (a monitoring event just names a service)
    for table, ids in (
        (SLA_ENGINE_APPLIED, (f"mon-{tag}", ticket_id)),
        ("reporting.inbox", (ticket_id,)),
    ):
        for event_id in ids:
            await poll_value(
                db, f"SELECT count(*) FROM {table} WHERE event_id = $1", event_id, expect=1
            )
    await poll_value(
        db,
        "SELECT count(*) FROM sla_engine.ticket_events WHERE ticket_id = $1",
        f"INC-{tag}",
        expect=1,
    )
    await poll_value(
        db, "SELECT count(*) FROM reporting.tickets WHERE service = $1", f"checkout-{tag}", expect=1
    )


async def test_signals_reach_alerting_once(
    stack: dict[str, ServiceProcess], settings: CommonSettings, db: asyncpg.Connection
) -> None:
    signal_id = f"sig-{uuid.uuid4().hex[:8]}"
    signal = {
        "signal_id": signal_id,
        "kind": "breach",
        "service": "checkout",
        "metric": "resolution",
        "ticket_id": "INC-1",
        "priority": "P1",
        "threshold": 1.0,
        "occurred_at": ago(seconds=5),
        "detected_at": ago(seconds=4),
        "deadline": ago(seconds=5),
    }
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for _ in range(2):  # the engine's outbox relay may publish twice after a crash
            await producer.send_and_wait(
                topic_name(settings.topic_prefix, SIGNALS_TOPIC),
                orjson.dumps(signal),
                key=b"checkout",
            )
    finally:
        await producer.stop()
    # alerting's inbox is its table of received signals: one row per signal id
    await poll_value(
        db, "SELECT count(*) FROM alerting.signals WHERE signal_id = $1", signal_id, expect=1
    )
    await poll_value(
        db, "SELECT count(*) FROM reporting.inbox WHERE event_id = $1", signal_id, expect=1
    )
