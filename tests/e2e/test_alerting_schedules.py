"""End to end, as the on-call docs read: a weekly rotation in Europe/Berlin names the right
person on both sides of a DST change, and a breach on a route whose escalation step names the
schedule reaches the person on call through their own receiver; the alert's history says who."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.alerting import ADMIN, SECRET, WebhookCollector
from tests.support.client import iso, post
from tests.support.processes import ServiceProcess, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def hook() -> Iterator[WebhookCollector]:
    c = WebhookCollector()
    yield c
    c.close()


def put(base: str, path: str, body: object) -> None:
    r = httpx.put(base + path, json=body, headers=ADMIN, timeout=10)
    assert r.status_code in (200, 201), f"{path}: {r.status_code} {r.text}"


def get(base: str, path: str, **params: str) -> Any:
    r = httpx.get(base + path, params=params, headers=ADMIN, timeout=10)
    assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
    return r.json()


def test_a_breach_pages_whoever_is_on_call_through_their_own_receiver(
    stack: dict[str, ServiceProcess], hook: WebhookCollector
) -> None:
    tag = uuid.uuid4().hex[:8]
    alerting, engine = stack["alerting"].url, stack["sla_engine"].url
    put(alerting, f"/v1/receivers/sink-{tag}", {"type": "webhook", "url": hook.url("/sink")})
    for person in ("alice", "bob"):
        put(alerting, f"/v1/receivers/{person}-{tag}",
            {"type": "webhook", "url": hook.url(f"/{person}"), "secret": SECRET})  # fmt: skip
        put(alerting, f"/v1/users/{person}-{tag}", {"receivers": [f"{person}-{tag}"]})
    # alice's week began an hour ago; the spare rotation only starts next year
    started = datetime.now(UTC) - timedelta(hours=1)
    rotation = {
        "name": "primary",
        "users": [f"alice-{tag}", f"bob-{tag}"],
        "start": iso(started),
        "shift": "1w",
    }
    put(alerting, f"/v1/schedules/team-{tag}",
        {"timezone": "Europe/Berlin", "rotations": [rotation]})  # fmt: skip
    spare = {**rotation, "name": "spare", "start": iso(started + timedelta(days=400))}
    put(alerting, f"/v1/schedules/empty-{tag}",
        {"timezone": "Europe/Berlin", "rotations": [spare]})  # fmt: skip
    # the first step's schedule has nobody on call: the second step runs at once, not in 10m
    put(alerting, f"/v1/escalation-policies/page-{tag}",
        {"steps": [{"after": "0s", "schedules": [f"empty-{tag}"]},
                   {"after": "10m", "schedules": [f"team-{tag}"]}]})  # fmt: skip
    put(alerting, "/v1/routes",
        {"receiver": f"sink-{tag}", "group_by": ["ticket_id"], "group_wait": "0s",
         "routes": [{"matchers": [f'service="sched-{tag}"', 'kind="breach"'],
                     "receiver": f"sink-{tag}", "escalation": f"page-{tag}"}]})  # fmt: skip
    put(engine, f"/v1/policies/sched-{tag}",
        {"match": {"service": f"sched-{tag}"}, "warn_at": [],
         "targets": {"P1": {"response": "1h", "resolution": "2s"}}})  # fmt: skip
    ticket = {
        "ticket_id": f"T-{tag}",
        "service": f"sched-{tag}",
        "action": "created",
        "priority": "P1",
        "occurred_at": iso(datetime.now(UTC)),
    }
    assert post(stack["ingest"].url, "/v1/events/tickets", ticket).status_code == 202

    [page] = wait_for("alice's page", lambda: hook.accepted("/alice"), 30)
    assert f"T-{tag}" in str(page.body)
    assert "/alice" not in hook.bad_signatures
    assert hook.accepted("/bob") == []

    def mine() -> list[dict[str, Any]]:
        return [a for a in get(alerting, "/v1/alerts")["items"] if a.get("ticket_id") == f"T-{tag}"]

    [alert] = wait_for("the alert", mine, 10)
    events = {h["event"]: h for h in alert["history"]}
    assert events["nobody on call"]["schedule"] == f"empty-{tag}"
    paged = events["paged"]
    assert (paged["schedule"], paged["user"]) == (f"team-{tag}", f"alice-{tag}")
    assert paged["receivers"] == [f"alice-{tag}"]
    metrics = httpx.get(alerting + "/metrics", timeout=10).text
    assert f'pacta_oncall_pages_total{{schedule="team-{tag}",user="alice-{tag}"}} 1.0' in metrics

    # alice acknowledges from her page's link
    link = str(page.body["alerts"][0]["ack_url"])
    assert httpx.post(link, timeout=10).status_code == 200
    [alert] = mine()
    assert alert["state"] == "acknowledged"


def test_on_call_at_names_the_right_person_on_both_sides_of_dst(
    stack: dict[str, ServiceProcess],
) -> None:
    tag = uuid.uuid4().hex[:8]
    alerting = stack["alerting"].url
    put(alerting, f"/v1/receivers/r-{tag}", {"type": "webhook", "url": "http://127.0.0.1:9/x"})
    for person in ("alice", "bob"):
        put(alerting, f"/v1/users/{person}-{tag}", {"receivers": [f"r-{tag}"]})
    rotation = {
        "name": "primary",
        "users": [f"alice-{tag}", f"bob-{tag}"],
        "start": "2026-10-19T09:00:00+02:00",
        "shift": "1w",
    }
    put(alerting, f"/v1/schedules/autumn-{tag}",
        {"timezone": "Europe/Berlin", "rotations": [rotation]})  # fmt: skip
    path = f"/v1/schedules/autumn-{tag}/on-call"
    # Monday 26 October, the day after the clocks went back: 08:30 local is still alice's
    assert get(alerting, path, at="2026-10-26T07:30:00Z")["users"] == [f"alice-{tag}"]
    assert get(alerting, path, at="2026-10-26T08:00:00Z")["users"] == [f"bob-{tag}"]
    # a week earlier, in summer time, 09:00 local was 07:00Z
    assert get(alerting, path, at="2026-10-19T06:59:00Z")["users"] == []
    assert get(alerting, path, at="2026-10-19T07:00:00Z")["users"] == [f"alice-{tag}"]
