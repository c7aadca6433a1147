"""End to end through HTTP and Kafka: ticket clocks warn, breach by themselves in real time,
are met, replay late events with `late: true`, retract a breach a late event disproves, and
survive a crash of the engine."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from pacta.durations import parse_timestamp_ms
from sla_engine.domain.watermarks import IMPORT_QUIET_MS
from tests.support.client import ADMIN_KEY, iso, poll_value, post
from tests.support.kafka import TopicReader
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.e2e
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def put_policy(engine: str, name: str, body: dict[str, object]) -> None:
    r = httpx.put(f"{engine}/v1/policies/{name}", json=body, headers=ADMIN, timeout=10)
    assert r.status_code in (200, 201), r.text


def ticket(tag: str, action: str, at: datetime, **extra: object) -> dict[str, object]:
    return {
        "ticket_id": f"T-{tag}",
        "service": f"svc-{tag}",
        "action": action,
        "occurred_at": iso(at),
        **extra,
    }


async def test_three_second_target_breaches_by_itself(
    stack: dict[str, ServiceProcess], signals: TopicReader
) -> None:
    tag = uuid.uuid4().hex[:8]
    engine = stack["sla_engine"].url
    put_policy(
        engine,
        f"fast-{tag}",
        {
            "match": {"service": f"svc-{tag}"},
            "warn_at": [0.5],
            "targets": {"P1": {"response": "1h", "resolution": "3s"}},
        },
    )
    created = datetime.now(UTC)
    assert (
        post(
            stack["ingest"].url,
            "/v1/events/tickets",
            ticket(tag, "created", created, priority="P1"),
        ).status_code
        == 202
    )
    warning = await signals.wait_for(
        "warning",
        lambda s: (
            s["ticket_id"] == f"T-{tag}" and s["kind"] == "warning" and s["metric"] == "resolution"
        ),
        timeout=10,
    )
    breach = await signals.wait_for(
        "breach", lambda s: s["ticket_id"] == f"T-{tag}" and s["kind"] == "breach", timeout=10
    )
    deadline_ms = parse_timestamp_ms(iso(created)) + 3000
    assert parse_timestamp_ms(breach["occurred_at"]) == deadline_ms
    assert parse_timestamp_ms(breach["deadline"]) == deadline_ms
    assert parse_timestamp_ms(warning["occurred_at"]) == deadline_ms - 1500
    assert breach["metric"] == "resolution"
    assert breach["priority"] == "P1"
    assert breach["threshold"] == 1.0
    assert breach["policy"] == f"fast-{tag}"
    assert breach["service"] == f"svc-{tag}"
    assert breach["late"] is False
    # detected within the window after the deadline, no event needed
    assert 0 <= parse_timestamp_ms(breach["detected_at"]) - deadline_ms < 1000
    clocks = httpx.get(
        f"{engine}/v1/clocks", params={"ticket_id": f"T-{tag}"}, headers=ADMIN
    ).json()["items"]
    by_metric = {c["metric"]: c for c in clocks}
    assert by_metric["resolution"]["state"] == "breached"
    assert by_metric["response"]["state"] == "running"
    assert by_metric["response"]["target_seconds"] == 3600
    assert (
        len(signals.matching(lambda s: s["ticket_id"] == f"T-{tag}" and s["kind"] == "breach")) == 1
    )


async def test_late_events_replay_in_event_time_and_retract(
    stack: dict[str, ServiceProcess], signals: TopicReader, db: asyncpg.Connection
) -> None:
    tag = uuid.uuid4().hex[:8]
    engine, ingest = stack["sla_engine"].url, stack["ingest"].url
    put_policy(
        engine,
        f"p-{tag}",
        {
            "match": {"service": f"svc-{tag}"},
            "warn_at": [0.5],
            "pause_statuses": ["waiting_for_customer"],
            "targets": {"P2": {"response": "10m", "resolution": "1h"}},
        },
    )
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    # created 3 h ago, responded after 20 min: response breached at t0+10m, resolution at t0+1h
    for event in (
        ticket(tag, "created", t0, priority="P2"),
        ticket(tag, "responded", t0 + timedelta(minutes=20)),
    ):
        r = post(ingest, "/v1/events/tickets", event)
        assert r.status_code == 202, r.text
    # Events three hours old are history: their partition is judged in event time, and its
    # held breaches fire once the history stops. The suite's other backdated tickets share the
    # partitions, and ten or more history events make an import, whose end waits 30 s of quiet
    # (docs/design.md, "Backfills are judged in event time"): wait past that.
    breach = await signals.wait_for(
        "late resolution breach",
        lambda s: (
            s["ticket_id"] == f"T-{tag}" and s["kind"] == "breach" and s["metric"] == "resolution"
        ),
        timeout=IMPORT_QUIET_MS / 1000 + 30,
    )
    assert breach["late"] is True
    assert breach["occurred_at"].startswith(iso(t0 + timedelta(hours=1))[:19])
    response_breach = await signals.wait_for(
        "response breach",
        lambda s: (
            s["ticket_id"] == f"T-{tag}" and s["kind"] == "breach" and s["metric"] == "response"
        ),
    )
    assert response_breach["occurred_at"].startswith(iso(t0 + timedelta(minutes=10))[:19])
    # a late event: the ticket was in fact resolved 50 minutes in, before the deadline
    r = post(ingest, "/v1/events/tickets", ticket(tag, "resolved", t0 + timedelta(minutes=50)))
    assert r.status_code == 202, r.text
    retracted = await signals.wait_for(
        "retraction", lambda s: s["ticket_id"] == f"T-{tag}" and s["kind"] == "retracted"
    )
    assert retracted["retracts"] == breach["signal_id"]
    met = await signals.wait_for(
        "met",
        lambda s: (
            s["ticket_id"] == f"T-{tag}" and s["kind"] == "met" and s["metric"] == "resolution"
        ),
    )
    assert met["occurred_at"].startswith(iso(t0 + timedelta(minutes=50))[:19])
    await poll_value(
        db,
        "SELECT state FROM sla_engine.clocks WHERE ticket_id = $1 AND metric = 'resolution'",
        f"T-{tag}",
        expect="met",
    )
    # each signal exactly once
    ids = [s["signal_id"] for s in signals.matching(lambda s: s["ticket_id"] == f"T-{tag}")]
    assert len(ids) == len(set(ids))


async def test_pause_and_priority_change(
    stack: dict[str, ServiceProcess], db: asyncpg.Connection
) -> None:
    tag = uuid.uuid4().hex[:8]
    engine, ingest = stack["sla_engine"].url, stack["ingest"].url
    put_policy(
        engine,
        f"p-{tag}",
        {
            "match": {"service": f"svc-{tag}"},
            "pause_statuses": ["waiting_for_customer"],
            "targets": {
                "P3": {"response": "1h", "resolution": "8h"},
                "P1": {"response": "15m", "resolution": "4h"},
            },
        },
    )
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    events = [
        ticket(tag, "created", t0, priority="P3", status="open"),
        ticket(tag, "updated", t0 + timedelta(minutes=10), status="waiting_for_customer"),
        ticket(tag, "updated", t0 + timedelta(minutes=40), status="in_progress"),
        ticket(tag, "updated", t0 + timedelta(minutes=50), priority="P1"),
        ticket(tag, "resolved", t0 + timedelta(minutes=70)),
    ]
    assert post(ingest, "/v1/events/tickets", events).status_code == 202
    await poll_value(
        db,
        "SELECT state FROM sla_engine.clocks WHERE ticket_id = $1 AND metric = 'resolution'",
        f"T-{tag}",
        expect="met",
    )
    clocks = httpx.get(
        f"{engine}/v1/clocks", params={"ticket_id": f"T-{tag}"}, headers=ADMIN
    ).json()["items"]
    resolution = next(c for c in clocks if c["metric"] == "resolution")
    # 70 min minus the 30 min paused = 40 min of counted time, against P1's 4 h
    assert resolution["elapsed_seconds"] == 2400
    assert resolution["priority"] == "P1"
    assert resolution["target_seconds"] == 4 * 3600
    response = next(c for c in clocks if c["metric"] == "response")
    # 40 counted minutes when P1 (15 min) took over: the response clock breached at the change
    assert response["state"] == "breached"


async def test_engine_crash_keeps_timers(
    stack: dict[str, ServiceProcess], signals: TopicReader, db: asyncpg.Connection
) -> None:
    tag = uuid.uuid4().hex[:8]
    engine = stack["sla_engine"]
    put_policy(
        engine.url,
        f"p-{tag}",
        {
            "match": {"service": f"svc-{tag}"},
            "warn_at": [0.5],
            "targets": {"P1": {"response": "1h", "resolution": "4s"}},
        },
    )
    created = datetime.now(UTC)
    post(stack["ingest"].url, "/v1/events/tickets", ticket(tag, "created", created, priority="P1"))
    await poll_value(
        db,
        "SELECT count(*) FROM sla_engine.clocks WHERE ticket_id = $1",
        f"T-{tag}",
        expect=2,
    )
    engine.kill()  # crash with the clock open; its breach falls due while the engine is down
    engine.start()
    breach = await signals.wait_for(
        "breach after restart",
        lambda s: s["ticket_id"] == f"T-{tag}" and s["kind"] == "breach",
        timeout=30,
    )
    assert parse_timestamp_ms(breach["occurred_at"]) == parse_timestamp_ms(iso(created)) + 4000
    await poll_value(
        db,
        "SELECT count(*) FROM sla_engine.signals WHERE ticket_id = $1 AND kind = 'breach'",
        f"T-{tag}",
        expect=1,
    )
    assert (
        len(signals.matching(lambda s: s["ticket_id"] == f"T-{tag}" and s["kind"] == "breach")) == 1
    )


async def poll_http(probe: Any, timeout: float = 20.0) -> Any:
    """Call `probe` until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"{probe.__name__} never held within {timeout}s")


async def test_after_a_restart_an_event_older_than_the_latest_still_replays(
    stack: dict[str, ServiceProcess], db: asyncpg.Connection
) -> None:
    tag = uuid.uuid4().hex[:8]
    engine, ingest = stack["sla_engine"], stack["ingest"].url
    put_policy(
        engine.url,
        f"p-{tag}",
        {
            "match": {"service": f"svc-{tag}"},
            "pause_statuses": ["waiting_for_customer"],
            "targets": {"P2": {"response": "8h", "resolution": "8h"}},
        },
    )
    now = datetime.now(UTC)
    created = ticket(tag, "created", now - timedelta(minutes=30), priority="P2", status="open")
    assert post(ingest, "/v1/events/tickets", created).status_code == 202
    # a status that changes nothing for the clocks, then a crash
    again = ticket(tag, "updated", now - timedelta(minutes=10), status="open")
    assert post(ingest, "/v1/events/tickets", again).status_code == 202

    await poll_value(
        db,
        "SELECT count(*) FROM sla_engine.ticket_events WHERE ticket_id = $1",
        f"T-{tag}",
        expect=2,
    )
    engine.kill()
    engine.start()
    # in fact the customer was waiting from 20 to 10 minutes ago: a late event, older than
    # the latest, which must be replayed in event time (waiting, then open again)
    late = ticket(tag, "updated", now - timedelta(minutes=20), status="waiting_for_customer")
    assert post(ingest, "/v1/events/tickets", late).status_code == 202

    def replayed() -> dict[str, object] | None:
        r = httpx.get(
            f"{engine.url}/v1/clocks", params={"ticket_id": f"T-{tag}"}, headers=ADMIN, timeout=5
        )
        items = {c["metric"]: c for c in r.json()["items"]}
        res = items.get("resolution")
        return res if res and 1190 <= res["elapsed_seconds"] <= 1260 else None

    found = await poll_http(replayed, timeout=30)
    assert found["state"] == "running"  # open again after the pause, not left paused
