"""End to end over HTTP: Grafana's contact point, PagerDuty Events v2 (answered as PagerDuty
does) and CloudEvents in its three modes reach Kafka and the sla-engine; bad payloads get a 4xx
naming the field and leave nothing behind."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent

from pacta.events import MONITORING_TOPIC, TICKETS_TOPIC, topic_name
from pacta.settings import CommonSettings
from tests.support.client import ADMIN_KEY, INGEST_KEY, iso, post
from tests.support.kafka import TopicReader
from tests.support.processes import ServiceProcess
from tests.support.sla_api import month_part, wait_downtime
from tests.unit.ingest.formats.test_robustness import mutations

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "formats"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def fixture(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


@pytest.fixture
async def monitoring(settings: CommonSettings) -> AsyncIterator[TopicReader]:
    topic = topic_name(settings.topic_prefix, MONITORING_TOPIC)
    async with TopicReader(settings.kafka_bootstrap, topic) as reader:
        yield reader


@pytest.fixture
async def tickets(settings: CommonSettings) -> AsyncIterator[TopicReader]:
    topic = topic_name(settings.topic_prefix, TICKETS_TOPIC)
    async with TopicReader(settings.kafka_bootstrap, topic) as reader:
        yield reader


def availability_policy(engine: str, service: str) -> None:
    down = ["critical", "major"]  # Grafana's fixture alert is `major`
    body = {
        "match": {"service": service},
        "availability": {"target": 99.9, "down_severities": down},
    }
    r = httpx.put(f"{engine}/v1/policies/{service}", json=body, headers=ADMIN, timeout=10)
    assert r.status_code in (200, 201), r.text


async def test_grafana_firing_then_resolved_is_downtime(stack: dict[str, ServiceProcess]) -> None:
    service = f"graf-{uuid.uuid4().hex[:8]}"
    engine, ingest = stack["sla_engine"].url, stack["ingest"].url
    availability_policy(engine, service)
    start = datetime.now(UTC).replace(microsecond=157000) - timedelta(hours=1)
    end = start + timedelta(minutes=30, seconds=10)
    firing, resolved = fixture("grafana/firing.json"), fixture("grafana/resolved.json")
    for body in (firing, resolved):
        for alert in body["alerts"]:
            alert["labels"]["service"] = service
            alert["fingerprint"] = service
            # Grafana writes the local offset of its server
            alert["startsAt"] = start.astimezone().isoformat()
        body["commonLabels"]["service"] = service
    resolved["alerts"][0]["endsAt"] = end.isoformat()
    for body in (firing, resolved, firing):  # Grafana re-sends at the next flush
        r = post(ingest, "/v1/ingest/grafana", body)
        assert r.status_code == 202, r.text
    assert r.json() == {"accepted": 0, "duplicates": 1, "ids": [r.json()["ids"][0]]}
    await wait_downtime(engine, service, month_part(start, end))


async def test_pagerduty_trigger_and_resolve_answered_as_pagerduty(
    stack: dict[str, ServiceProcess], monitoring: TopicReader
) -> None:
    service = f"pd-{uuid.uuid4().hex[:8]}"
    engine, ingest = stack["sla_engine"].url, stack["ingest"].url
    availability_policy(engine, service)
    start = datetime.now(UTC).replace(microsecond=120000) - timedelta(minutes=20)
    trigger = fixture("pagerduty/trigger.json")
    trigger["routing_key"] = INGEST_KEY  # the routing key is the credential
    trigger["dedup_key"] = f"{service}/replication-lag"
    trigger["payload"]["custom_details"]["service"] = service
    trigger["payload"]["timestamp"] = start.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
    r = httpx.post(f"{ingest}/v2/enqueue", json=trigger, timeout=10)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "success"
    assert body["message"] == "Event processed"
    assert body["dedup_key"] == trigger["dedup_key"]
    assert body["accepted"] == 1

    ack = {
        "routing_key": INGEST_KEY,
        "event_action": "acknowledge",
        "dedup_key": trigger["dedup_key"],
    }
    r = httpx.post(f"{ingest}/v2/enqueue", json=ack, timeout=10)
    assert r.status_code == 202, r.text
    assert r.json()["dedup_key"] == trigger["dedup_key"]

    # the resolve names nothing but the dedup_key: the ingest remembered the service
    resolve = {**ack, "event_action": "resolve"}
    r = httpx.post(f"{ingest}/v2/enqueue", json=resolve, timeout=10)
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 1
    resolved = await monitoring.wait_for(
        "the resolve",
        lambda e: e.get("service") == service and e["status"] == "resolved",
        timeout=45,
    )
    assert resolved["check"] == trigger["dedup_key"]
    end = datetime.fromisoformat(resolved["occurred_at"])
    end = end.replace(microsecond=end.microsecond // 1000 * 1000)
    await wait_downtime(engine, service, month_part(start, end))


def test_pagerduty_errors_have_pagerduty_shape(stack: dict[str, ServiceProcess]) -> None:
    url = stack["ingest"].url + "/v2/enqueue"
    bad = {"routing_key": INGEST_KEY, "event_action": "trigger", "payload": {"summary": "s"}}
    r = httpx.post(url, json=bad, timeout=10)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["status"] == "invalid event"
    assert body["message"] == "Event object is invalid"
    assert body["errors"] == ["payload.source: is required"]
    r = httpx.post(url, json={**bad, "routing_key": "not-a-pacta-key"}, timeout=10)
    assert r.status_code == 401, r.text
    assert set(r.json()) == {"status", "message"}
    r = httpx.post(url, content=b"{", headers={"Authorization": f"Bearer {INGEST_KEY}"}, timeout=10)
    assert r.status_code == 400, r.text
    assert r.json()["status"] == "invalid event"


async def test_cloudevents_structured_binary_and_batch(
    stack: dict[str, ServiceProcess], monitoring: TopicReader, tickets: TopicReader
) -> None:
    tag = uuid.uuid4().hex[:8]
    ingest = stack["ingest"].url + "/v1/ingest/cloudevents"
    auth = {"Authorization": f"Bearer {INGEST_KEY}"}
    now = datetime.now(UTC) - timedelta(seconds=30)
    structured = fixture("cloudevents/structured-monitoring.json")
    structured["id"] = f"ce-{tag}-1"
    structured["data"].update(service=f"ce-{tag}", occurred_at=iso(now))
    r = httpx.post(
        ingest,
        content=orjson.dumps(structured),
        headers={**auth, "Content-Type": "application/cloudevents+json; charset=utf-8"},
        timeout=10,
    )
    assert r.status_code == 202, r.text
    assert r.json()["ids"] == [f"ce-{tag}-1"]

    binary_headers = {
        **auth,
        "ce-specversion": "1.0",
        "ce-id": f"ce-{tag}-2",
        "ce-source": "/nightwatch/eu%201",
        "ce-type": "io.pacta.monitoring",
        "ce-time": iso(now),
    }
    data = {"service": f"ce-{tag}", "check": "disk", "status": "firing"}  # occurred_at from ce-time
    r = httpx.post(ingest, content=orjson.dumps(data), headers=binary_headers, timeout=10)
    assert r.status_code == 202, r.text

    batch = fixture("cloudevents/batch.json")
    batch[0]["id"] = f"ce-{tag}-3"
    batch[0]["data"].update(service=f"ce-{tag}", check="cpu", occurred_at=iso(now))
    batch[1]["id"] = f"ce-{tag}-4"
    batch[1]["time"] = iso(now)
    batch[1]["data"].update(ticket_id=f"ZD-{tag}", service=f"ce-{tag}")
    headers = {**auth, "Content-Type": "application/cloudevents-batch+json"}
    r = httpx.post(ingest, content=orjson.dumps(batch), headers=headers, timeout=10)
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 2

    await tickets.wait_for(
        "the batch's ticket", lambda e: e.get("ticket_id") == f"ZD-{tag}", timeout=45
    )
    await monitoring.wait_for(
        "the batch's monitoring event", lambda e: e.get("id") == f"ce-{tag}-3", timeout=45
    )
    ours = monitoring.matching(lambda e: e.get("service") == f"ce-{tag}")
    assert sorted(e["id"] for e in ours) == [f"ce-{tag}-1", f"ce-{tag}-2", f"ce-{tag}-3"]

    # one bad element rejects the whole batch, naming it; nothing of it reaches Kafka
    batch[0]["id"], batch[1]["id"] = f"ce-{tag}-5", f"ce-{tag}-6"
    del batch[1]["data"]["service"]
    r = httpx.post(ingest, content=orjson.dumps(batch), headers=headers, timeout=10)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"] == [{"field": "1.data.service", "message": "Field required"}]
    again = {**batch[0], "id": f"ce-{tag}-7"}
    r = httpx.post(ingest, content=orjson.dumps([again]), headers=headers, timeout=10)
    assert r.status_code == 202, r.text
    await monitoring.wait_for("the later event", lambda e: e.get("id") == f"ce-{tag}-7", timeout=45)
    assert not monitoring.matching(lambda e: e.get("id") == f"ce-{tag}-5")


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        (
            "/v1/ingest/alertmanager",
            {"version": "4", "alerts": [{"status": "x"}]},
            422,
            "alerts.0.status",
        ),
        ("/v1/ingest/grafana", [], 422, "body"),
        ("/v1/ingest/jira", {"webhookEvent": "jira:issue_updated"}, 422, "timestamp"),
        ("/v1/ingest/servicenow", {"result": {"sys_id": "a"}}, 422, "result.number"),
    ],
)
def test_bad_payloads_get_a_problem_naming_the_field(
    stack: dict[str, ServiceProcess], path: str, body: Any, status: int, field: str
) -> None:
    r = post(stack["ingest"].url, path, body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == field


def test_native_endpoints_need_an_ingest_key(stack: dict[str, ServiceProcess]) -> None:
    r = post(stack["ingest"].url, "/v1/ingest/alertmanager", {}, key=None)
    assert r.status_code == 401, r.text
    r = httpx.post(
        stack["ingest"].url + "/v1/ingest/cloudevents",
        content=b"{}",
        headers={
            "Authorization": f"Bearer {INGEST_KEY}",
            "Content-Type": "application/cloudevents+avro",
        },
        timeout=10,
    )
    assert r.status_code == 415, r.text


def test_pagerduty_size_limit_is_pagerdutys(stack: dict[str, ServiceProcess]) -> None:
    trigger = fixture("pagerduty/trigger.json")
    trigger["routing_key"] = INGEST_KEY
    trigger["payload"]["custom_details"]["blob"] = "x" * (512 * 1024)
    r = httpx.post(stack["ingest"].url + "/v2/enqueue", json=trigger, timeout=10)
    assert r.status_code == 400, r.text
    assert r.json()["errors"] == ["body: is larger than PagerDuty's 512 KB limit"]


ENDPOINTS = {
    "alertmanager": "/v1/ingest/alertmanager",
    "grafana": "/v1/ingest/grafana",
    "pagerduty": "/v2/enqueue",
    "cloudevents": "/v1/ingest/cloudevents",
    "jira": "/v1/ingest/jira",
    "servicenow": "/v1/ingest/servicenow",
}


def test_mutated_payloads_never_get_a_server_error(stack: dict[str, ServiceProcess]) -> None:
    """Each fixture with one node replaced by an odd value (NUL, huge numbers, wrong types):
    every answer is a 202 or a 4xx, never a 5xx."""
    rng = random.Random(8)
    headers = {"Authorization": f"Bearer {INGEST_KEY}"}
    with httpx.Client(base_url=stack["ingest"].url, headers=headers, timeout=10) as client:
        for folder, path in ENDPOINTS.items():
            extra = {"Content-Type": "application/cloudevents-batch+json"}
            extra = extra if folder == "cloudevents" else {"Content-Type": "application/json"}
            for file in sorted((FIXTURES / folder).glob("*.json")):
                original = orjson.loads(file.read_bytes())
                for _ in range(15):
                    body = orjson.dumps(mutations(original, rng))
                    r = client.post(path, content=body, headers=extra)
                    assert r.status_code < 500, f"{path} {body[:300]!r}: {r.status_code} {r.text}"


async def test_the_cloudevents_sdk_as_a_client(
    stack: dict[str, ServiceProcess], monitoring: TopicReader
) -> None:
    """The CloudEvents Python SDK (nobody here wrote it) builds binary and structured requests."""
    tag = uuid.uuid4().hex[:8]
    url = stack["ingest"].url + "/v1/ingest/cloudevents"
    auth = {"Authorization": f"Bearer {INGEST_KEY}"}
    data = {"service": f"sdk-{tag}", "check": "disk", "status": "firing", "severity": "major"}
    # no datacontenttype: the SDK sends no Content-Type at all in binary mode
    binary = CloudEvent(
        {"type": "io.pacta.monitoring", "source": "/sdk", "id": f"sdk {tag} 1"}, data
    )
    message = to_binary_event(binary)
    r = httpx.post(url, content=message.body, headers={**auth, **message.headers}, timeout=10)
    assert r.status_code == 202, r.text
    structured = CloudEvent(
        {"type": "io.pacta.monitoring", "source": "/sdk", "id": f"sdk-{tag}-2",
         "datacontenttype": "application/json"},
        {**data, "check": "cpu"},
    )  # fmt: skip
    message = to_structured_event(structured)
    r = httpx.post(url, content=message.body, headers={**auth, **message.headers}, timeout=10)
    assert r.status_code == 202, r.text
    await monitoring.wait_for(
        "the structured one", lambda e: e.get("id") == f"sdk-{tag}-2", timeout=45
    )
    first = await monitoring.wait_for(
        "the binary one", lambda e: e.get("id") == f"sdk {tag} 1", timeout=45
    )
    # the binary event's occurred_at is the SDK's `time` attribute
    sent = binary.get_time()
    assert sent is not None
    assert datetime.fromisoformat(first["occurred_at"]) == sent
