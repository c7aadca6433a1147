"""The availability gauges say what docs/metrics.md says: a service with an availability target
has `pacta_availability_ratio` and `pacta_error_budget_remaining_ratio`, also when its first
monitoring event came before its policy (the README's order); a service without one has
neither."""

from __future__ import annotations

import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.client import ago, post
from tests.support.processes import ServiceProcess, wait_for
from tests.support.sla_api import ADMIN, put

pytestmark = pytest.mark.e2e
GAUGES = ("pacta_availability_ratio", "pacta_error_budget_remaining_ratio")


def gauges(engine: str, service: str) -> dict[str, float]:
    text = httpx.get(f"{engine}/metrics", timeout=10).text
    return {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name in GAUGES and s.labels.get("service") == service
    }


def firing(ingest: str, service: str) -> None:
    event = {"service": service, "check": "http", "status": "firing", "severity": "critical",
             "occurred_at": ago(minutes=10)}  # fmt: skip
    assert post(ingest, "/v1/events/monitoring", event).status_code == 202


def is_down(engine: str, service: str) -> bool:
    r = httpx.get(f"{engine}/v1/services/{service}/availability", headers=ADMIN, timeout=10)
    return r.status_code == 200 and bool(r.json()["down"])


def test_the_gauges_follow_the_availability_target(stack: dict[str, ServiceProcess]) -> None:
    tag = uuid.uuid4().hex[:8]
    engine, ingest = stack["sla_engine"].url, stack["ingest"].url
    early, untargeted = f"early-{tag}", f"plain-{tag}"
    firing(ingest, early)
    firing(ingest, untargeted)
    wait_for("both outages applied", lambda: is_down(engine, early) and is_down(engine, untargeted))
    assert gauges(engine, early) == {}
    put(engine, "policies", f"avail-{tag}",
        {"match": {"service": early}, "availability": {"target": 99.9}})  # fmt: skip
    found = wait_for("the gauges of the service whose policy came second",
                     lambda: gauges(engine, early) if len(gauges(engine, early)) == 2 else None)  # fmt: skip
    # measured only since its first monitoring event, ten minutes ago, and down since then
    assert found["pacta_availability_ratio"] == 0
    assert found["pacta_error_budget_remaining_ratio"] < 1
    assert gauges(engine, untargeted) == {}  # no target: no availability gauge either
