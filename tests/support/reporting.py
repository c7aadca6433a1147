"""Records as the engine and ingest put them on Kafka, for the reporting tests: clock and
availability facts, ticket events, signals, calendars and policies, produced straight to the
topics."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from pacta.events import (
    CALENDARS_TOPIC,
    FACTS_TOPIC,
    POLICIES_TOPIC,
    SIGNALS_TOPIC,
    TICKETS_TOPIC,
    topic_name,
)

READ = {"Authorization": "Bearer test-admin-key"}


def clock_fact(
    ticket_id: str,
    metric: str,
    service: str,
    *,
    version: int,
    state: str,
    priority: str | None,
    started_at: str,
    elapsed_seconds: float,
    stopped_at: str | None = None,
    breached_at: str | None = None,
    deadline: str | None = None,
    target_seconds: float | None = 3600.0,
    policy: str = "gold",
    policy_version: int | None = None,
    calendar_version: int | None = None,
) -> dict[str, Any]:
    """A clock fact; the version keys only when given, as in facts from before versions."""
    versions = {"policy_version": policy_version, "calendar_version": calendar_version}
    return {
        **{k: v for k, v in versions.items() if v is not None},
        "fact_id": f"clock:{ticket_id}:{metric}:{version}",
        "fact": "clock",
        "ticket_id": ticket_id,
        "metric": metric,
        "service": service,
        "customer": None,
        "ticket_type": "incident",
        "policy": policy,
        "priority": priority,
        "state": state,
        "version": version,
        "elapsed_seconds": elapsed_seconds,
        "target_seconds": target_seconds,
        "started_at": started_at,
        "stopped_at": stopped_at,
        "deadline": deadline,
        "occurred_at": stopped_at or started_at,
        "breached_at": breached_at,
        "calendar": "24x7",
    }


def availability_fact(
    service: str,
    month: str,
    *,
    version: int,
    month_start: str,
    month_end: str,
    down: list[list[str | None]],
    maintenance: list[list[str]],
    target: float | None = 99.9,
    calendar: str = "24x7",
    timezone: str = "UTC",
) -> dict[str, Any]:
    return {
        "fact_id": f"availability:{service}:{month}:{version}",
        "fact": "availability",
        "service": service,
        "month": month,
        "policy": "gold",
        "target": target,
        "calendar": calendar,
        "down_severities": ["critical"],
        "version": version,
        "down_intervals": down,
        "calendar_timezone": timezone,
        "month_start": month_start,
        "month_end": month_end,
        "maintenance_intervals": maintenance,
        "as_of": month_end,
        "occurred_at": month_end,
    }


def ticket_event(
    event_id: str,
    ticket_id: str,
    service: str,
    action: str,
    at: str,
    *,
    priority: str | None = None,
    type: str = "incident",
    outcome: str | None = None,
) -> dict[str, Any]:
    return {
        "id": event_id,
        "occurred_at": at,
        "source": "api",
        "ticket_id": ticket_id,
        "service": service,
        "type": type,
        "priority": priority,
        "action": action,
        "outcome": outcome,
        "received_at": at,
    }


def signal(
    signal_id: str,
    kind: str,
    service: str,
    metric: str,
    at: str,
    *,
    ticket_id: str | None = None,
    priority: str | None = None,
    deadline: str | None = None,
    retracts: str | None = None,
    policy: str = "gold",
    policy_version: int | None = None,
    calendar_version: int | None = None,
) -> dict[str, Any]:
    versions = {"policy_version": policy_version, "calendar_version": calendar_version}
    return {
        **{k: v for k, v in versions.items() if v is not None},
        "signal_id": signal_id,
        "kind": kind,
        "service": service,
        "policy": policy,
        "metric": metric,
        "ticket_id": ticket_id,
        "priority": priority,
        "threshold": 1.0,
        "deadline": deadline or at,
        "occurred_at": at,
        "detected_at": at,
        "labels": {},
        "late": False,
        "retracts": retracts,
    }


def version(
    number: int, effective_from: str | None, spec: dict[str, Any] | None, recorded_at: str
) -> dict[str, Any]:
    """One `ResourceVersion`: `spec` is the body as PUT, None a deletion."""
    return {
        "version": number,
        "effective_from": effective_from,
        "recorded_at": recorded_at,
        "spec": spec,
    }


def policy_record(name: str, versions: list[dict[str, Any]]) -> dict[str, Any]:
    """A `PolicyRecord` as the engine publishes it on the compacted policies topic."""
    return {"name": name, "versions": versions}


async def produce(
    bootstrap: str, prefix: str, records: list[tuple[str, str, dict[str, Any] | None]]
) -> None:
    """(topic suffix, key, body) in order; a None body is a tombstone (calendars, policies)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for suffix, key, body in records:
            await producer.send_and_wait(
                topic_name(prefix, suffix),
                key=key.encode(),
                value=None if body is None else orjson.dumps(body),
            )
    finally:
        await producer.stop()


FACTS, TICKETS, SIGNALS, CALENDARS = FACTS_TOPIC, TICKETS_TOPIC, SIGNALS_TOPIC, CALENDARS_TOPIC
POLICIES = POLICIES_TOPIC


def get_report(base: str, **params: str) -> httpx.Response:
    return httpx.get(f"{base}/v1/reports/monthly", params=params, headers=READ, timeout=30)


def wait_report(base: str, check: Any, timeout: float = 30.0, **params: str) -> dict[str, Any]:
    """Poll the report until `check(report)` holds; fail with the last report seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        r = get_report(base, **params)
        if r.status_code == 200:
            last = r.json()
            try:
                if check(last):
                    return dict(last)
            except (KeyError, IndexError, TypeError):
                pass
        else:
            last = r.text
        time.sleep(0.1)
    raise AssertionError(f"report never matched within {timeout}s; last: {last!r}")


async def produce_many(
    bootstrap: str, prefix: str, records: list[tuple[str, str, dict[str, Any] | None]]
) -> None:
    """Like `produce`, with every send in flight at once (for long streams)."""
    import asyncio

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        futures = [
            await producer.send(
                topic_name(prefix, suffix),
                key=key.encode(),
                value=None if body is None else orjson.dumps(body),
            )
            for suffix, key, body in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def outcomes_only(tickets: dict[str, Any]) -> dict[str, Any]:
    """The ticket figures without the per-priority breakdown and its targets (the tests that
    predate them compare the rest exactly)."""
    out = {k: v for k, v in tickets.items() if k != "by_policy_version"}
    for metric in ("response", "resolution"):
        out[metric] = {k: out[metric][k] for k in ("met", "breached", "compliance")}
    return out
