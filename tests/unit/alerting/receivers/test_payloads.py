"""The shape of what each receiver sends: Slack blocks, the Teams card, PagerDuty events, the mail."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from alerting.receivers import email, msteams, pagerduty, slack
from tests.unit.alerting.receivers.samples import ACK_URL, availability, breach, notification

SLACK = slack.Config(type="slack", url="https://hooks.slack.com/services/T0/B0/secret")
PAGERDUTY = pagerduty.Config(type="pagerduty", routing_key="R0UT1NGKEY")
EMAIL = email.Config.model_validate(
    {
        "type": "email",
        "host": "smtp.example.com",
        "from": "Pacta <alerts@example.com>",
        "to": ["oncall@example.com", "lead@example.com"],
    }
)
NOW = datetime(2026, 12, 1, 14, 0, 1, tzinfo=UTC)


def test_slack_message_has_a_header_a_section_per_alert_and_an_ack_button() -> None:
    body = slack.payload(notification(breach(), availability()), SLACK)
    kinds = [block["type"] for block in body["blocks"]]
    assert kinds == ["header", "section", "actions", "divider", "section", "actions", "divider"]
    header = body["blocks"][0]["text"]
    assert header == {
        "type": "plain_text",
        "text": "[FIRING:2] checkout resolution breach, availability breach",
        "emoji": True,
    }
    section = body["blocks"][1]
    assert section["text"]["text"] == ":red_circle: *Resolution breach*: Ticket T-42"
    fields = [field["text"] for field in section["fields"]]
    assert "*Ticket*\nT-42" in fields
    assert "*Priority*\nP1" in fields
    assert "*Deadline*\n2026-12-01 14:00:00 UTC" in fields
    assert "*How late*\nat the deadline" in fields
    assert len(fields) <= 10
    button = body["blocks"][2]["elements"][0]
    assert button["type"] == "button"
    assert button["url"] == ACK_URL
    assert button["text"]["text"] == "Acknowledge"
    assert body["blocks"][5]["elements"][0]["action_id"] != button["action_id"]
    assert body["text"].startswith("[FIRING:2] checkout")
    assert "channel" not in body
    assert "username" not in body


def test_slack_overrides_go_into_the_payload_only_when_set() -> None:
    config = slack.Config(
        type="slack",
        url="https://hooks.slack.com/services/x",
        channel="#oncall",
        username="pacta",
        icon_emoji=":rotating_light:",
    )
    body = slack.payload(notification(), config)
    assert (body["channel"], body["username"], body["icon_emoji"]) == (
        "#oncall",
        "pacta",
        ":rotating_light:",
    )


def test_slack_escapes_its_control_characters() -> None:
    body = slack.payload(notification(breach(ticket_id="<!channel> & co")), SLACK)
    section = body["blocks"][1]
    assert "&lt;!channel&gt; &amp; co" in section["text"]["text"]
    assert "<!channel>" not in body["text"]


def test_slack_continues_an_eleventh_fact_in_a_second_section() -> None:
    body = slack.payload(notification(breach(late=True)), SLACK)
    first, second = body["blocks"][1], body["blocks"][2]
    assert len(first["fields"]) == 10
    assert second == {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": "*Labels*\nregion=eu, team=payments"}],
    }
    assert body["blocks"][3]["type"] == "actions"


def test_slack_shows_ten_alerts_and_counts_the_rest() -> None:
    alerts = [breach(ticket_id=f"T-{i}", alert_id=f"a-{i}", late=True) for i in range(13)]
    body = slack.payload(notification(*alerts), SLACK)
    assert len(body["blocks"]) <= 50
    assert sum(block["type"] == "actions" for block in body["blocks"]) == 10
    assert body["blocks"][-1]["elements"][0]["text"] == "… and 3 more alerts in this group"


def test_slack_resolved_alert_has_the_check_mark() -> None:
    body = slack.payload(
        notification(breach(kind="met", state="resolved"), status="resolved"), SLACK
    )
    assert body["blocks"][1]["text"]["text"].startswith(":white_check_mark: *Resolution met*")


def test_teams_message_carries_an_adaptive_card_with_facts_and_an_open_url_action() -> None:
    body = msteams.payload(notification(breach(), availability()))
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    assert card["body"][0]["text"] == "[FIRING:2] checkout resolution breach, availability breach"
    first = card["body"][1]
    assert first["type"] == "Container"
    assert first["style"] == "attention"
    facts = _only(first["items"], "FactSet")["facts"]
    assert {"title": "Ticket", "value": "T-42"} in facts
    assert {"title": "How late", "value": "at the deadline"} in facts
    action = _only(first["items"], "ActionSet")["actions"][0]
    assert action == {"type": "Action.OpenUrl", "title": "Acknowledge", "url": ACK_URL}
    second = card["body"][2]
    assert second["items"][1]["text"] == "downtime exceeded the error budget of 2592s in 2026-12"


def test_teams_resolved_alert_is_shown_good() -> None:
    body = msteams.payload(notification(breach(kind="met"), status="resolved"))
    assert body["attachments"][0]["content"]["body"][1]["style"] == "good"


def test_pagerduty_triggers_one_event_per_alert_keyed_by_alert_id() -> None:
    events = pagerduty.events(notification(breach(), availability()), PAGERDUTY)
    assert [e["dedup_key"] for e in events] == [
        "alert-T-42-resolution",
        "alert-checkout-availability",
    ]
    first = events[0]
    assert first["routing_key"] == "R0UT1NGKEY"
    assert first["event_action"] == "trigger"
    assert first["payload"]["summary"] == "Resolution breach: Ticket T-42 (checkout)"
    assert first["payload"]["source"] == "checkout"
    assert first["payload"]["severity"] == "critical"
    assert first["payload"]["timestamp"] == "2026-12-01T14:00:00Z"
    assert first["payload"]["component"] == "resolution"
    assert first["payload"]["group"] == "acme"
    assert first["payload"]["class"] == "breach"
    assert first["payload"]["custom_details"]["how_late"] == "at the deadline"
    assert first["payload"]["custom_details"]["alert_id"] == "alert-T-42-resolution"
    assert first["links"] == [{"href": ACK_URL, "text": "Acknowledge in Pacta"}]
    assert first["client"] == "Pacta"
    assert "client_url" not in first
    assert events[1]["payload"]["group"] == "checkout"


def test_pagerduty_resolves_and_acknowledges_by_the_same_key() -> None:
    resolved = pagerduty.events(
        notification(breach(kind="stopped", state="resolved"), status="resolved"), PAGERDUTY
    )
    assert resolved == [
        {
            "routing_key": "R0UT1NGKEY",
            "event_action": "resolve",
            "dedup_key": "alert-T-42-resolution",
        }
    ]
    acked = pagerduty.events(notification(breach(state="acknowledged")), PAGERDUTY)
    assert acked[0]["event_action"] == "acknowledge"
    assert acked[0]["dedup_key"] == "alert-T-42-resolution"


def test_pagerduty_severity_follows_priority_and_kind() -> None:
    alerts = [breach(priority="P3"), breach(kind="warning", threshold=0.5), availability()]
    events = pagerduty.events(notification(*alerts), PAGERDUTY)
    assert [e["payload"]["severity"] for e in events] == ["error", "warning", "critical"]


def test_pagerduty_dedup_key_stays_within_its_limit() -> None:
    events = pagerduty.events(notification(breach(alert_id="x" * 300)), PAGERDUTY)
    key = events[0]["dedup_key"]
    assert len(key) == 64
    assert (
        pagerduty.events(notification(breach(alert_id="x" * 300)), PAGERDUTY)[0]["dedup_key"] == key
    )


def test_pagerduty_client_url_when_configured() -> None:
    config = pagerduty.Config(
        type="pagerduty", routing_key="k", client_url="https://pacta.example.com"
    )
    assert pagerduty.events(notification(), config)[0]["client_url"] == "https://pacta.example.com"


def test_mail_has_a_text_and_an_html_part_and_the_title_as_subject() -> None:
    msg = email.message(notification(breach(), availability()), EMAIL, NOW)
    assert msg["Subject"] == "[FIRING:2] checkout resolution breach, availability breach"
    assert msg["From"] == "Pacta <alerts@example.com>"
    assert msg["To"] == "oncall@example.com, lead@example.com"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    text, html = _parts(msg)
    assert "Resolution breach: Ticket T-42" in text
    assert f"Acknowledge: {ACK_URL}" in text
    assert "How late: at the deadline" in text
    assert f'href="{ACK_URL}"' in html
    assert "<th" in html
    assert "Availability breach: Service checkout" in html


def test_mail_message_id_is_stable_per_idempotency_key() -> None:
    first = email.message(notification(key="d-1"), EMAIL, NOW)["Message-ID"]
    again = email.message(notification(key="d-1"), EMAIL, datetime(2027, 1, 1, tzinfo=UTC))
    other = email.message(notification(key="d-2"), EMAIL, NOW)["Message-ID"]
    assert first == again["Message-ID"]
    assert first != other
    assert first.startswith("<")
    assert first.endswith("@example.com>")


def test_mail_escapes_html_but_not_text() -> None:
    msg = email.message(notification(breach(ticket_id="<script>x</script>")), EMAIL, NOW)
    text, html = _parts(msg)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "Ticket:   <script>x</script>" in text


def _only(items: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [item for item in items if item["type"] == kind]
    return found


def _parts(msg: EmailMessage) -> tuple[str, str]:
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    return str(text.get_content()), str(html.get_content())


def test_big_groups_and_labels_stay_within_the_services_limits() -> None:
    labels = {f"label{i}": "v" * 1024 for i in range(64)}
    alerts = [breach(ticket_id=f"T-{i}", alert_id=f"a-{i}", labels=labels) for i in range(200)]
    n = notification(*alerts)
    body = slack.payload(n, SLACK)
    assert len(body["text"]) <= 3000
    assert all(len(f["text"]) <= 2000 for b in body["blocks"] for f in b.get("fields", []))
    card = json.dumps(msteams.payload(n))
    assert len(card.encode()) < 28_000 * 20  # twenty alerts at most, each fact clipped
    facts = msteams.payload(n)["attachments"][0]["content"]["body"][1]["items"][-2]["facts"]
    assert max(len(f["value"]) for f in facts) == 500
