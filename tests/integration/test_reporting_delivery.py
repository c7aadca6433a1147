"""Scheduled delivery end to end through Kafka: a report subscription names an alerting e-mail
receiver; issuing a month produces a record that alerting queues and sends to a real SMTP
server (aiosmtpd) with the report attached, the attempt listed in alerting's deliveries. The
SMTP server refuses the first attempt (a 4xx): the delivery is retried, at least once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from pacta.settings import CommonSettings
from tests.conftest import OwnDatabase
from tests.support.processes import ServiceProcess, free_port, wait_for
from tests.support.reporting import FACTS, READ, availability_fact, produce, wait_report

SVC = f"mailed-{uuid.uuid4().hex[:6]}"
# a month no other test of the shared database issues (the review tests issue October)
AUG = ("2026-08-01T00:00:00.000Z", "2026-09-01T00:00:00.000Z")


class Mailbox:
    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.refuse = 1  # the first DATA is refused with a temporary error

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse:
            self.refuse -= 1
            return "451 try again later"
        assert isinstance(envelope.content, bytes)
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.mails.append(message)
        return "250 OK"


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def settings(own_database: OwnDatabase) -> CommonSettings:
    return own_database.settings


@pytest.fixture(scope="module")
def services(own_database: OwnDatabase, log_dir: Path) -> Iterator[dict[str, ServiceProcess]]:
    # a database of its own: issuing a month takes in every service the database holds
    env = {**own_database.env, "PACTA_ALERTING_RETRY_INITIAL_SECONDS": "0.2"}
    procs = {m: ServiceProcess(m, env, log_dir) for m in ("reporting", "alerting")}
    for p in procs.values():
        p.start(wait=False)
    try:
        for p in procs.values():
            p.wait_ready()
        yield procs
    finally:
        for p in procs.values():
            p.stop()


async def test_each_revision_is_mailed_with_the_report_attached(
    services: dict[str, ServiceProcess],
    mailbox: tuple[Mailbox, int],
    settings: CommonSettings,
) -> None:
    box, port = mailbox
    reporting, alerting = services["reporting"].url, services["alerting"].url
    receiver = {
        "type": "email",
        "host": "127.0.0.1",
        "port": port,
        "from": "Pacta <reports@example.com>",
        "to": ["manager@example.com"],
        "require_tls": False,
    }
    r = httpx.put(f"{alerting}/v1/receivers/managers", json=receiver, headers=READ, timeout=10)
    assert r.status_code in (200, 201), r.text
    sub = {"receiver": "managers", "format": "pdf", "services": [SVC], "tz": "UTC"}
    r = httpx.put(
        f"{reporting}/v1/report-subscriptions/monthly", json=sub, headers=READ, timeout=10
    )
    assert r.status_code == 201, r.text
    assert httpx.get(f"{reporting}/v1/report-subscriptions/monthly", headers=READ).json() == {
        "name": "monthly",
        **sub,
    }
    bad = {**sub, "tz": "Factory"}
    r = httpx.put(f"{reporting}/v1/report-subscriptions/x", json=bad, headers=READ, timeout=10)
    assert r.status_code == 422

    fact = availability_fact(
        SVC, "2026-08", version=1, month_start=AUG[0], month_end=AUG[1], down=[], maintenance=[]
    )
    await produce(settings.kafka_bootstrap, settings.topic_prefix, [(FACTS, SVC, fact)])
    wait_report(reporting, lambda r: r["services"], month="2026-08", service=SVC)
    r = httpx.post(f"{reporting}/v1/reports/monthly/2026-08/publish", headers=READ, timeout=60)
    assert r.status_code == 201, r.text
    revision = r.json()["revision"]

    # rendered by the relay after the issue, off the event loop (a PDF takes seconds on a busy box)
    await asyncio.to_thread(wait_for, "the report mail", lambda: bool(box.mails), 120.0)
    mail = box.mails[0]
    assert mail["Subject"] == f"SLA report 2026-08 (UTC), revision {revision}"
    assert mail["To"] == "manager@example.com"
    attachments = list(mail.iter_attachments())
    assert len(attachments) == 1
    assert attachments[0].get_filename() == f"sla-report-2026-08-r{revision}.pdf"
    content = attachments[0].get_content()
    assert isinstance(content, bytes)
    assert content.startswith(b"%PDF")
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    assert SVC in body.get_content()

    items: list[dict[str, Any]] = httpx.get(
        f"{alerting}/v1/deliveries", params={"receiver": "managers"}, headers=READ, timeout=10
    ).json()["items"]
    assert len(items) == 1
    attempts = items[0]["attempts"]
    assert [a["outcome"] for a in attempts][-1] == "delivered"
    assert len(attempts) >= 2  # the refused first attempt is listed too
    assert (
        httpx.delete(f"{reporting}/v1/report-subscriptions/monthly", headers=READ).status_code
        == 204
    )
    assert (
        httpx.get(f"{reporting}/v1/report-subscriptions/monthly", headers=READ).status_code == 404
    )
