"""End to end: a Jira issue's and a ServiceNow incident's lifecycle as those tools deliver it
(the fixtures of tests/fixtures/formats, moved next to the present) give the right clocks in
the sla-engine; retried deliveries count once; a mappings file loaded at start-up applies."""

from __future__ import annotations

import copy
import hashlib
import hmac
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.support.client import post
from tests.support.processes import ServiceProcess
from tests.support.sla_api import Clocks, put, wait_clocks

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "formats"
JIRA_STEPS = [
    "created",
    "updated-in-progress",
    "updated-waiting-for-customer",
    "updated-back-and-priority",
    "updated-resolved",
    "updated-reopened",
    "deleted",
]
SERVICENOW_STEPS = [
    "insert",
    "in-progress",
    "on-hold-awaiting-caller",
    "back-in-progress",
    "resolved",
    "reopened",
    "resolved-again",
    "closed",
]
ORIGIN = datetime(2026, 3, 2, 7, 20, 11, tzinfo=UTC)  # the ServiceNow fixtures' insert
WEBHOOK_SECRET = "jira-webhook-secret"
TARGETS = {
    "P1": {"response": "15m", "resolution": "4h"},
    "P2": {"response": "1h", "resolution": "8h"},
}


def fixture(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


def policy(engine: str, service: str) -> None:
    body = {
        "match": {"service": service},
        "targets": TARGETS,
        "pause_statuses": ["waiting_for_customer"],
    }
    put(engine, "policies", service, body)


def state(clocks: Clocks, metric: str) -> tuple[str, float]:
    return clocks[metric]["state"], clocks[metric]["elapsed_seconds"]


@pytest.fixture(scope="module")
def mapped_ingest(
    service_env: dict[str, str], log_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """An ingest of its own started with a mappings file (same Kafka topics as the stack)."""
    path = tmp_path_factory.mktemp("mappings") / "mappings.yml"
    path.write_text(
        "sources:\n"
        "  jira-eu:\n"
        "    format: jira\n"
        "    service_field: customfield_10057\n"
        "    priorities: {Highest: P1, High: P1}\n"
        "  jira:\n"
        f"    webhook_secret: {WEBHOOK_SECRET}\n"
    )
    proc = ServiceProcess(
        "ingest", {**service_env, "PACTA_INGEST_MAPPINGS_FILE": str(path)}, log_dir
    )
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def jira_lifecycle(tag: str, service: str, start: datetime) -> list[dict[str, Any]]:
    """The Jira deliveries of one issue, its key, id and component ours, its times from `start`."""
    bodies = [fixture(f"jira/{s}.json") for s in JIRA_STEPS]
    origin = bodies[0]["timestamp"]
    out = []
    for body in bodies:
        body = copy.deepcopy(body)
        body["timestamp"] = int(start.timestamp() * 1000) + body["timestamp"] - origin
        issue = body["issue"]
        issue["id"], issue["key"] = tag, f"SD-{tag}"
        issue["fields"]["components"][0]["name"] = service
        issue["fields"]["customfield_10057"]["value"] = f"{service}-eu"
        out.append(body)
    return out


def at_ms(body: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(body["timestamp"] / 1000, UTC)


async def test_a_jira_issue_lifecycle_gives_the_right_clocks(
    stack: dict[str, ServiceProcess],
) -> None:
    tag = str(uuid.uuid4().int % 10**9)
    service = f"jira-{tag}"
    engine, ingest = stack["sla_engine"].url, stack["ingest"].url
    policy(engine, service)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)
    deliveries = jira_lifecycle(tag, service, start)
    answers = []
    for body in deliveries:
        r = post(ingest, "/v1/ingest/jira", body)
        assert r.status_code == 202, r.text
        answers.append(r.json())
    # one event per changelog item: the resolve transition carried three
    assert [a["accepted"] for a in answers] == [1, 2, 1, 2, 3, 2, 1]
    # Jira retries the resolve transition: nothing counts twice
    retry = post(
        ingest, "/v1/ingest/jira", deliveries[4], headers={"X-Atlassian-Webhook-Retry": "1"}
    )
    assert retry.status_code == 202, retry.text
    assert (retry.json()["accepted"], retry.json()["duplicates"]) == (0, 3)

    # response: first move out of `new` at +9m30s; resolution: paused 45 min waiting for the
    # customer, resolved at +2h, reopened at +3h, closed by the delete at +4h, now P1 (4h)
    clocks = await wait_clocks(
        engine,
        f"SD-{tag}",
        lambda c: c["resolution"]["state"] == "met" and c["resolution"]["elapsed_seconds"] > 4500,
        timeout=60,  # generous: a loaded CI machine
    )
    assert state(clocks, "response") == ("met", 570.0)
    assert state(clocks, "resolution") == ("met", 4500.0 + 3600.0)
    assert clocks["resolution"]["priority"] == "P1"


async def test_a_named_jira_source_applies_its_mapping_from_the_file(
    stack: dict[str, ServiceProcess], mapped_ingest: ServiceProcess
) -> None:
    tag = str(uuid.uuid4().int % 10**9)
    service = f"jira-{tag}"
    engine = stack["sla_engine"].url
    policy(engine, f"{service}-eu")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    created = jira_lifecycle(tag, service, start)[0]
    r = post(mapped_ingest.url, "/v1/ingest/jira?source=jira-eu", created)
    assert r.status_code == 202, r.text
    # the service from customfield_10057, High mapped to P1 (15 min response target)
    clocks = await wait_clocks(
        engine, f"SD-{tag}", lambda c: c["response"]["priority"] == "P1", timeout=60
    )
    assert clocks["response"]["service"] == f"{service}-eu"
    assert clocks["response"]["target_seconds"] == 900
    assert r.json()["ids"] == [f"jira-eu-jira-{tag}-created"]
    # the same delivery from the default source is another site's issue: not a duplicate
    other = post(mapped_ingest.url, "/v1/ingest/jira", created)
    assert other.json()["accepted"] == 1, other.text
    unknown = post(mapped_ingest.url, "/v1/ingest/jira?source=jira-us", created)
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["errors"][0]["field"] == "source"


def servicenow_lifecycle(tag: str, service: str, start: datetime) -> list[dict[str, Any]]:
    out = []
    for step in SERVICENOW_STEPS:
        body = fixture(f"servicenow/{step}.json")
        record = body.get("result", body)
        record["sys_id"], record["number"] = f"{tag:0>32}", f"INC{tag}"
        record["business_service"]["display_value"] = service
        for field in ("sys_updated_on", "opened_at", "resolved_at", "closed_at", "sys_created_on"):
            if record[field]:
                # the fixtures write UTC without an offset, as ServiceNow does
                t = datetime.fromisoformat(record[field]).replace(tzinfo=UTC) - ORIGIN
                record[field] = (start + t).strftime("%Y-%m-%d %H:%M:%S")
        out.append(body)
    return out


async def test_a_servicenow_incident_lifecycle_gives_the_right_clocks(
    stack: dict[str, ServiceProcess],
) -> None:
    tag = str(uuid.uuid4().int % 10**9)
    service = f"sn-{tag}"
    engine, ingest = stack["sla_engine"].url, stack["ingest"].url
    policy(engine, service)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1, hours=1)
    records = servicenow_lifecycle(tag, service, start)
    for record in records:
        r = post(ingest, "/v1/ingest/servicenow", record)
        assert r.status_code == 202, r.text
    # the business rule fires twice for one update: the same sys_mod_count counts once
    again = post(ingest, "/v1/ingest/servicenow", records[2])
    assert again.json()["accepted"] == 0, again.text

    # response at the first move to 2 (+12 min); resolution paused 30 min awaiting the caller,
    # resolved at +2h, reopened at +3h, resolved again at +4h: 90 + 60 min of working time
    clocks = await wait_clocks(
        engine,
        f"INC{tag}",
        lambda c: c["resolution"]["state"] == "met" and c["resolution"]["elapsed_seconds"] > 5400,
        timeout=60,
    )
    assert state(clocks, "response") == ("met", 720.0)
    assert state(clocks, "resolution") == ("met", 9000.0)


async def test_a_jira_admin_webhook_authenticates_by_its_signature(
    stack: dict[str, ServiceProcess], mapped_ingest: ServiceProcess
) -> None:
    tag = str(uuid.uuid4().int % 10**9)
    service = f"jira-{tag}"
    policy(stack["sla_engine"].url, service)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    body = orjson.dumps(jira_lifecycle(tag, service, start)[0])
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    url = mapped_ingest.url + "/v1/ingest/jira"
    headers = {"Content-Type": "application/json", "X-Hub-Signature": signature}
    r = httpx.post(url, content=body, headers=headers, timeout=10)
    assert r.status_code == 202, r.text
    await wait_clocks(stack["sla_engine"].url, f"SD-{tag}", lambda c: "response" in c, timeout=60)
    forged = {**headers, "X-Hub-Signature": "sha256=" + "0" * 64}
    assert httpx.post(url, content=body, headers=forged, timeout=10).status_code == 401
    unsigned = httpx.post(
        url, content=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert unsigned.status_code == 401
