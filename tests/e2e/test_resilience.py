"""End to end under faults: Kafka stalls (ingest answers 503, then recovers) and a consumer
is killed mid-stream (nothing lost, nothing doubled)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from pacta.events import TICKETS_TOPIC, topic_name
from pacta.settings import CommonSettings
from tests.support.client import SLA_ENGINE_APPLIED, ago, poll_value, post
from tests.support.processes import ServiceProcess, wait_for

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def broker_pid() -> int:
    out = subprocess.run(
        ["bash", str(ROOT / "deploy/local/kafka.sh"), "pid"],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0 or not out.stdout.strip().isdigit():
        pytest.fail(f"cannot find the local Kafka broker's pid: {out.stdout} {out.stderr}")
    return int(out.stdout.strip())


def _ticket(tag: str, n: int) -> dict[str, object]:
    return {
        "id": f"evt-{tag}-{n}",
        "ticket_id": f"T-{tag}-{n}",
        "service": f"svc-{tag}",
        "priority": "P3",
        "action": "created",
        "occurred_at": ago(minutes=1),
    }


async def test_kafka_down_gives_503_then_recovers(
    stack: dict[str, ServiceProcess], db: asyncpg.Connection
) -> None:
    ingest = stack["ingest"].url
    tag = uuid.uuid4().hex[:8]
    pid = broker_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        r = post(ingest, "/v1/events/tickets", _ticket(tag, 1), timeout=30)
        elapsed = time.monotonic() - started
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert int(r.headers["Retry-After"]) >= 1
        assert elapsed < 10, f"503 took {elapsed:.1f}s"
        ready = httpx.get(ingest + "/readyz", timeout=10)
        assert ready.status_code == 503
    finally:
        os.kill(pid, signal.SIGCONT)
    # The sender retries as Retry-After says; once Kafka is back the same event is accepted once.
    r = wait_for(
        "ingest to accept again",
        lambda: (
            (resp := post(ingest, "/v1/events/tickets", _ticket(tag, 1))).status_code == 202
            and resp
        ),
        timeout=60,
        every=0.5,
    )
    assert r.json()["ids"] == [f"evt-{tag}-1"]
    await poll_value(
        db,
        f"SELECT count(*) FROM {SLA_ENGINE_APPLIED} WHERE event_id = $1",
        f"evt-{tag}-1",
        expect=1,
        timeout=60,
    )


async def test_consumer_killed_mid_stream_loses_and_doubles_nothing(
    stack: dict[str, ServiceProcess], db: asyncpg.Connection
) -> None:
    ingest, engine = stack["ingest"].url, stack["sla_engine"]
    tag = uuid.uuid4().hex[:8]
    total = 400
    for start in range(0, total, 20):
        batch = [_ticket(tag, n) for n in range(start, start + 20)]
        assert post(ingest, "/v1/events/tickets", batch).status_code == 202
        if start == 200:
            engine.kill()  # crash: no shutdown code, uncommitted offsets are replayed
    engine.start()
    query = "SELECT count(*) FROM sla_engine.ticket_events WHERE body->>'service' = $1"
    await poll_value(db, query, f"svc-{tag}", expect=total, timeout=60)
    dupes = await db.fetchval(
        "SELECT count(*) - count(DISTINCT ticket_id) FROM sla_engine.ticket_events "
        "WHERE body->>'service' = $1",
        f"svc-{tag}",
    )
    assert dupes == 0
    await poll_value(
        db, "SELECT count(*) FROM reporting.tickets WHERE service = $1", f"svc-{tag}", expect=total
    )


async def test_a_poisonous_record_does_not_stop_its_partition(
    stack: dict[str, ServiceProcess], settings: CommonSettings, db: asyncpg.Connection
) -> None:
    """A record PostgreSQL cannot store (it bypassed ingest's checks) is set aside, and the
    records behind it on the same partition are still applied."""
    tag = uuid.uuid4().hex[:8]
    topic = topic_name(settings.topic_prefix, TICKETS_TOPIC)
    bad = _ticket(tag, 1) | {"summary": "nul \u0000 inside", "received_at": ago(seconds=1)}
    good = _ticket(tag, 2) | {"ticket_id": f"T-{tag}-1", "received_at": ago(seconds=1)}
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for event in (bad, good):  # same key: same partition, bad one first
            await producer.send_and_wait(topic, orjson.dumps(event), key=f"T-{tag}-1".encode())
    finally:
        await producer.stop()
    await poll_value(
        db,
        f"SELECT count(*) FROM {SLA_ENGINE_APPLIED} WHERE event_id = $1",
        f"evt-{tag}-2",
        expect=1,
        timeout=60,
    )
    await poll_value(
        db,
        f"SELECT count(*) FROM {SLA_ENGINE_APPLIED} WHERE event_id = $1",
        f"evt-{tag}-1",
        expect=0,
    )
    metrics = httpx.get(stack["sla_engine"].url + "/metrics", timeout=5).text
    assert "pacta_kafka_records_set_aside_total" in metrics
