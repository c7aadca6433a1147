"""The sla-engine's /metrics after a live breach (docs/metrics.md): open clocks by state, signals by
kind, service, metric and priority, and the breach detection lag of the timer that fired it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pacta.durations import parse_timestamp_ms
from tests.support.client import iso, post
from tests.support.kafka import TopicReader
from tests.support.processes import ServiceProcess
from tests.support.sla_api import put

pytestmark = pytest.mark.e2e
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(engine: str) -> Samples:
    r = httpx.get(f"{engine}/metrics", timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def sample(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_a_live_breach_shows_in_the_metrics(
    stack: dict[str, ServiceProcess], signals: TopicReader
) -> None:
    tag = uuid.uuid4().hex[:8]
    engine, service = stack["sla_engine"].url, f"svc-{tag}"
    put(
        engine,
        "policies",
        f"fast-{tag}",
        {
            "match": {"service": service},
            "warn_at": [],  # the breach alone: the timer must fire it, not the event's replay
            "targets": {"P1": {"response": "1h", "resolution": "3s"}},
        },
    )
    before = scrape(engine)
    lag = "pacta_breach_detection_lag_seconds"
    created = datetime.now(UTC)
    event = {
        "ticket_id": f"T-{tag}",
        "service": service,
        "priority": "P1",
        "action": "created",
        "occurred_at": iso(created),
    }
    assert post(stack["ingest"].url, "/v1/events/tickets", event).status_code == 202
    breach = await signals.wait_for(
        "the live breach", lambda s: s["ticket_id"] == f"T-{tag}" and s["kind"] == "breach"
    )
    assert breach["late"] is False
    deadline_ms = parse_timestamp_ms(iso(created)) + 3_000
    assert parse_timestamp_ms(breach["occurred_at"]) == deadline_ms
    after = scrape(engine)

    mine = {"service": service, "metric": "resolution", "priority": "P1"}
    assert sample(after, "pacta_signals_total", kind="breach", **mine) == 1
    assert sample(after, "pacta_signals_total", kind="warning", **mine) == 0
    assert sample(after, "pacta_signals_total", kind="met", **mine) == 0
    # the timer that fired the breach measured how long after its deadline it did
    counted = sample(after, f"{lag}_count", kind="breach") - sample(
        before, f"{lag}_count", kind="breach"
    )
    assert counted >= 1
    # the ticket's response clock (1 h) still runs, and so does its breached resolution clock
    assert sample(after, "pacta_clocks_open", state="running") >= 2
    assert ("pacta_clocks_open", frozenset({("state", "paused")})) in after
