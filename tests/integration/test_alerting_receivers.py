"""The whole alerting path into the other receiver types: a breach routed to an e-mail receiver
reaches a real SMTP server (aiosmtpd) once with an HTML and a text part and its ack link, and
the same alert reaches a Slack incoming webhook (a real HTTP server) as blocks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.alerting import Alerting, Mailbox, WebhookCollector, running_alerting
from tests.support.processes import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def alerting(
    kafka_bootstrap: str,
    service_env: dict[str, str],
    log_dir: Path,
    mailbox: tuple[Mailbox, int],
    hook: WebhookCollector,
) -> AsyncIterator[Alerting]:
    async with running_alerting(kafka_bootstrap, service_env, log_dir) as a:
        a.ok(
            "PUT",
            "/v1/receivers/mail",
            {
                "type": "email",
                "host": "127.0.0.1",
                "port": mailbox[1],
                "from": "pacta@example.com",
                "to": ["oncall@example.com"],
                "require_tls": False,
            },
        )
        a.ok("PUT", "/v1/receivers/chat", {"type": "slack", "url": hook.url("/slack")})
        a.ok(
            "PUT",
            "/v1/routes",
            {
                "receiver": "mail",
                "group_by": ["..."],
                "group_wait": "0s",
                "routes": [
                    {"matchers": ["kind=breach"], "receiver": "mail", "continue": True},
                    {"matchers": ["kind=breach"], "receiver": "chat"},
                ],
            },
        )
        yield a


async def test_a_breach_reaches_the_mailbox_and_the_channel(
    alerting: Alerting, mailbox: tuple[Mailbox, int], hook: WebhookCollector
) -> None:
    box = mailbox[0]
    await alerting.signal(kind="breach", ticket_id="MAIL-1", service="checkout", priority="P1")
    [mail] = wait_for("the mail", lambda: list(box.messages), 20)
    assert mail["To"] == "oncall@example.com"
    assert "MAIL-1" in str(mail["Subject"]) or "checkout" in str(mail["Subject"])
    html = mail.get_body(("html",))
    text = mail.get_body(("plain",))
    assert html is not None
    assert text is not None
    assert "MAIL-1" in text.get_content()
    assert "/v1/ack/" in html.get_content()
    [post] = wait_for("the Slack message", lambda: hook.accepted("/slack"), 20)
    assert "blocks" in post.body
    assert "MAIL-1" in str(post.body)
    # once each, and the deliveries say so
    items = alerting.ok("GET", "/v1/deliveries?outcome=delivered")["items"]
    assert sorted(d["receiver"] for d in items) == ["chat", "mail"]
    assert len(box.messages) == 1
    # the Slack webhook URL is a secret: never shown
    assert alerting.ok("GET", "/v1/receivers/chat")["url"] == "<set>"
