"""End to end: a ticket posted through ingest with a short target gives one signed webhook at
its deadline, with no one watching; the engineer acknowledges from the link in it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from pacta.durations import parse_timestamp_ms
from tests.support.alerting import ADMIN, SECRET, WebhookCollector, put_config
from tests.support.client import iso, post
from tests.support.processes import ServiceProcess, wait_for

pytestmark = pytest.mark.e2e


def test_a_ticket_breach_is_delivered_at_its_deadline_once(
    stack: dict[str, ServiceProcess], hook: WebhookCollector
) -> None:
    tag = uuid.uuid4().hex[:8]
    alerting, engine = stack["alerting"].url, stack["sla_engine"].url
    put_config(
        alerting,
        "/v1/receivers/oncall",
        {"type": "webhook", "url": hook.url("/oncall"), "secret": SECRET},
    )
    put_config(
        alerting,
        "/v1/routes",
        {
            "receiver": "oncall",
            "group_by": ["ticket_id"],
            "group_wait": "0s",
            "routes": [
                {
                    "matchers": [f'service="svc-{tag}", kind!="breach"'],
                    "receiver": "oncall",
                    "group_wait": "1h",
                }
            ],
        },
    )
    put_config(
        engine,
        f"/v1/policies/fast-{tag}",
        {
            "match": {"service": f"svc-{tag}"},
            "warn_at": [0.5],
            "targets": {"P1": {"response": "1h", "resolution": "3s"}},
        },
    )
    created = datetime.now(UTC)
    ticket = {
        "ticket_id": f"T-{tag}",
        "service": f"svc-{tag}",
        "action": "created",
        "priority": "P1",
        "occurred_at": iso(created),
    }
    assert post(stack["ingest"].url, "/v1/events/tickets", ticket).status_code == 202

    def breaches() -> list[tuple[float, dict[str, object]]]:
        return [
            (r.at, a)
            for r in hook.accepted("/oncall")
            for a in r.body["alerts"]
            if a["ticket_id"] == f"T-{tag}" and a["kind"] == "breach"
        ]

    [(arrived, alert)] = wait_for("the breach webhook", breaches, timeout=20)
    deadline = parse_timestamp_ms(iso(created)) + 3000
    assert parse_timestamp_ms(str(alert["deadline"])) == deadline
    # delivered inside a second of the deadline, by the timers alone
    assert 0 <= arrived * 1000 - deadline < 1000
    assert hook.bad_signatures == []
    assert alert["metric"] == "resolution"
    assert alert["priority"] == "P1"

    # a second ticket's breach is the marker: once it is in, the first has not come again
    marker = {**ticket, "ticket_id": f"M-{tag}", "occurred_at": iso(datetime.now(UTC))}
    assert post(stack["ingest"].url, "/v1/events/tickets", marker).status_code == 202
    wait_for(
        "the marker",
        lambda: [a for a in hook.alerts("/oncall") if a["ticket_id"] == f"M-{tag}"],
        timeout=20,
    )
    assert len(breaches()) == 1

    # the link in the notification: a GET shows the alert and acknowledges nothing
    link = str(alert["ack_url"])
    page = httpx.get(link, timeout=10)
    assert page.status_code == 200
    assert "Acknowledge" in page.text
    alert_id = str(alert["alert_id"])
    view = httpx.get(f"{alerting}/v1/alerts/{alert_id}", headers=ADMIN, timeout=10).json()
    assert view["state"] == "firing"
    done = httpx.post(link, timeout=10)
    assert done.status_code == 200
    view = httpx.get(f"{alerting}/v1/alerts/{alert_id}", headers=ADMIN, timeout=10).json()
    assert view["state"] == "acknowledged"
    assert view["acknowledged_by"] == "link"
    # a forged link does nothing
    assert httpx.post(link[:-3] + "abc", timeout=10).status_code == 404
