"""End to end, as an on-call engineer meets it: a receiver and a route are put, a ticket with a short
target is posted, and at its deadline a signed webhook, a Slack message and an e-mail arrive on
their own, once each; the engineer acknowledges from the link and the escalation stops."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from pacta.durations import parse_timestamp_ms
from tests.support.alerting import SECRET, Mailbox, WebhookCollector, put_config
from tests.support.client import iso, post
from tests.support.processes import ServiceProcess, wait_for

pytestmark = pytest.mark.e2e


def ticket(tag: str, name: str) -> dict[str, object]:
    return {
        "ticket_id": f"{name}-{tag}",
        "service": f"oncall-{tag}",
        "action": "created",
        "priority": "P1",
        "occurred_at": iso(datetime.now(UTC)),
    }


def test_webhook_slack_and_mail_at_the_deadline_then_ack_stops_the_escalation(
    stack: dict[str, ServiceProcess], hook: WebhookCollector, mailbox: tuple[Mailbox, int]
) -> None:
    tag = uuid.uuid4().hex[:8]
    alerting, engine = stack["alerting"].url, stack["sla_engine"].url
    box, smtp_port = mailbox
    put_config(alerting, "/v1/receivers/sink", {"type": "webhook", "url": hook.url("/sink")})
    put_config(
        alerting,
        "/v1/receivers/oncall",
        {"type": "webhook", "url": hook.url("/oncall"), "secret": SECRET},
    )
    put_config(alerting, "/v1/receivers/chat", {"type": "slack", "url": hook.url("/slack")})
    put_config(
        alerting,
        "/v1/receivers/mail",
        {
            "type": "email",
            "host": "127.0.0.1",
            "port": smtp_port,
            "from": "pacta@example.com",
            "to": ["oncall@example.com"],
            "require_tls": False,
        },
    )
    put_config(alerting, "/v1/receivers/lead", {"type": "webhook", "url": hook.url("/lead")})
    put_config(
        alerting,
        "/v1/escalation-policies/page",
        {
            "steps": [
                {"after": "0s", "receivers": ["chat", "mail"]},
                {"after": "4s", "receivers": ["lead"]},
            ]
        },
    )
    put_config(alerting, "/v1/routes",
        {"receiver": "sink", "group_by": ["ticket_id"], "group_wait": "0s",
         "routes": [{"matchers": [f'service="oncall-{tag}"', 'kind="breach"'],
                     "receiver": "oncall", "escalation": "page"}]})  # fmt: skip
    put_config(engine, f"/v1/policies/oncall-{tag}",
        {"match": {"service": f"oncall-{tag}"}, "warn_at": [],
         "targets": {"P1": {"response": "1h", "resolution": "3s"}}})  # fmt: skip
    created = ticket(tag, "T")
    assert post(stack["ingest"].url, "/v1/events/tickets", created).status_code == 202
    deadline = parse_timestamp_ms(str(created["occurred_at"])) + 3000

    def mine(path: str, ticket_id: str) -> list[tuple[float, dict[str, Any]]]:
        return [(r.at, r.body) for r in hook.accepted(path) if ticket_id in str(r.body)]

    [(at, body)] = wait_for("the webhook", lambda: mine("/oncall", f"T-{tag}"), 20)
    assert 0 <= at * 1000 - deadline < 1500
    # the signed receiver's signature checks out (the others have no secret, so no signature)
    assert "/oncall" not in hook.bad_signatures
    [(slack_at, slack)] = wait_for("the Slack message", lambda: mine("/slack", f"T-{tag}"), 20)
    assert "blocks" in slack
    assert 0 <= slack_at * 1000 - deadline < 1500
    [mail] = wait_for("the mail", lambda: [m for m in box.messages if f"T-{tag}" in str(m)], 20)
    assert mail.get_body(("html",)) is not None
    assert mail.get_body(("plain",)) is not None

    # the engineer acknowledges from the link: a GET only shows it, the POST acknowledges
    link = str(body["alerts"][0]["ack_url"])
    assert httpx.get(link, timeout=10).status_code == 200
    assert httpx.post(link, timeout=10).status_code == 200

    # a second ticket is the marker: once its second step reached the lead, the first's would
    # have too, had the ack not stopped it
    assert post(stack["ingest"].url, "/v1/events/tickets", ticket(tag, "M")).status_code == 202
    wait_for("the marker's second step", lambda: mine("/lead", f"M-{tag}"), 30)
    assert mine("/lead", f"T-{tag}") == []
    # once each
    assert len(mine("/oncall", f"T-{tag}")) == 1
    assert len(mine("/slack", f"T-{tag}")) == 1
    assert len([m for m in box.messages if f"T-{tag}" in str(m)]) == 1
