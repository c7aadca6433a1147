"""The email receiver against a real SMTP server (aiosmtpd) in the test: STARTTLS with a
certificate made here, AUTH PLAIN and LOGIN, the mail as received, and every refusal."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from alerting.receivers import email
from alerting.receivers.base import DeliveryError
from tests.support.processes import free_port
from tests.unit.alerting.receivers.samples import ACK_URL, availability, breach, notification

USER, PASSWORD = "pacta", "s3cret-pass"
TO = ["oncall@example.com", "lead@example.com"]
NOW = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass
class Received:
    envelope_from: str
    envelope_to: list[str]
    message: EmailMessage
    tls: bool
    auth: str | None  # `MECHANISM:login` of a successful AUTH


@dataclass
class Mailbox:
    """The aiosmtpd handler: keeps what it is sent, refuses what the test says."""

    port: int
    mails: list[Received] = field(default_factory=list)
    refuse_rcpt: dict[str, str] = field(default_factory=dict)
    data_answer: str = "250 OK"
    quit_answer: str = "221 Bye"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return self.quit_answer

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if not self.data_answer.startswith("250"):
            return self.data_answer
        assert isinstance(envelope.content, bytes)
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.mails.append(
            Received(
                envelope_from=str(envelope.mail_from),
                envelope_to=list(envelope.rcpt_tos),
                message=message,
                tls=session.ssl is not None,
                auth=session.auth_data if session.authenticated else None,
            )
        )
        return "250 OK"


def _authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    login = data.login.decode() if isinstance(data, LoginPassword) else "?"
    return AuthResult(success=ok, handled=False, auth_data=f"{mechanism}:{login}")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@contextmanager
def smtp_server(**params: Any) -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port, **params)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def _config(box: Mailbox, **changes: Any) -> email.Config:
    body = {
        "type": "email",
        "host": "127.0.0.1",
        "port": box.port,
        "from": "Pacta <alerts@example.com>",
        "to": TO,
        "hello": "pacta.test-client",
    }
    return email.Config.model_validate(body | changes)


def _sender(config: email.Config) -> email.EmailSender:
    sender = email.build(config, httpx.AsyncClient())
    assert isinstance(sender, email.EmailSender)
    return sender


def _tls_auth_server(server_tls: ssl.SSLContext, mechanism: str) -> Any:
    other = {"PLAIN": "LOGIN", "LOGIN": "PLAIN"}[mechanism]
    return smtp_server(
        tls_context=server_tls,
        require_starttls=True,
        auth_required=True,
        authenticator=_authenticate,
        auth_exclude_mechanism=[other],  # so the client has to use `mechanism`
    )


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_mail_arrives_over_starttls_with_auth(
    ca: trustme.CA, server_tls: ssl.SSLContext, mechanism: str
) -> None:
    with _tls_auth_server(server_tls, mechanism) as box:
        config = _config(
            box, username=USER, password=PASSWORD, tls_ca_pem=ca.cert_pem.bytes().decode()
        )
        outcome = await _sender(config).send(notification(breach(), availability(), key="d-7"))
    assert outcome == "sent to 2"
    (mail,) = box.mails
    assert mail.tls
    assert mail.auth == f"{mechanism}:{USER}"
    assert mail.envelope_from == "alerts@example.com"
    assert mail.envelope_to == TO
    msg = mail.message
    assert msg["Subject"] == "[FIRING:2] checkout resolution breach, availability breach"
    assert msg["Message-ID"] == email.message(notification(key="d-7"), config, NOW)["Message-ID"]
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    assert f"Acknowledge: {ACK_URL}" in text.get_content()
    assert "Resolution breach: Ticket T-42" in text.get_content()
    assert f'href="{ACK_URL}"' in html.get_content()
    assert "Availability breach: Service checkout" in html.get_content()


async def test_a_wrong_password_is_not_retried(ca: trustme.CA, server_tls: ssl.SSLContext) -> None:
    with _tls_auth_server(server_tls, "PLAIN") as box:
        config = _config(
            box, username=USER, password="wrong", tls_ca_pem=ca.cert_pem.bytes().decode()
        )
        with pytest.raises(DeliveryError) as caught:
            await _sender(config).send(notification())
    assert not caught.value.retryable
    assert str(caught.value).startswith("SMTP 535")
    assert "wrong" not in str(caught.value)
    assert box.mails == []


async def test_a_server_without_starttls_is_refused_when_tls_is_required() -> None:
    with smtp_server() as box, pytest.raises(DeliveryError) as caught:
        await _sender(_config(box)).send(notification())
    assert not caught.value.retryable
    assert "does not offer STARTTLS" in str(caught.value)
    assert box.mails == []


async def test_require_tls_false_sends_in_the_clear() -> None:
    with smtp_server() as box:
        assert await _sender(_config(box, require_tls=False)).send(notification()) == "sent to 2"
    (mail,) = box.mails
    assert not mail.tls
    assert mail.auth is None


async def test_an_untrusted_certificate_is_refused_unless_verification_is_skipped(
    server_tls: ssl.SSLContext,
) -> None:
    with smtp_server(tls_context=server_tls, require_starttls=True) as box:
        # the system's CAs do not know the test CA
        with pytest.raises(DeliveryError) as caught:
            await _sender(_config(box)).send(notification())
        assert not caught.value.retryable
        assert "certificate" in str(caught.value)
        assert box.mails == []
        insecure = _config(box, tls_insecure_skip_verify=True)
        assert await _sender(insecure).send(notification()) == "sent to 2"
    assert box.mails[0].tls


async def test_a_certificate_of_another_ca_is_refused(server_tls: ssl.SSLContext) -> None:
    stranger = trustme.CA().cert_pem.bytes().decode()
    with (
        smtp_server(tls_context=server_tls, require_starttls=True) as box,
        pytest.raises(DeliveryError) as caught,
    ):
        await _sender(_config(box, tls_ca_pem=stranger)).send(notification())
    assert not caught.value.retryable
    assert box.mails == []


@pytest.mark.parametrize(
    ("answer", "retryable"),
    [
        ("550 5.1.1 No such user", False),
        ("450 4.2.1 Mailbox busy, try later", True),
    ],
)
async def test_refused_recipients_are_classified_by_their_code(
    answer: str, retryable: bool
) -> None:
    with smtp_server() as box:
        box.refuse_rcpt = {address: answer for address in TO}
        with pytest.raises(DeliveryError) as caught:
            await _sender(_config(box, require_tls=False)).send(notification())
    assert caught.value.retryable is retryable
    assert "all recipients refused" in str(caught.value)
    assert answer.split()[0] in str(caught.value)


async def test_one_refused_recipient_does_not_resend_to_the_others() -> None:
    with smtp_server() as box:
        box.refuse_rcpt = {"lead@example.com": "550 5.1.1 No such user"}
        outcome = await _sender(_config(box, require_tls=False)).send(notification())
    assert outcome == "sent to 1 of 2; refused lead@example.com (550)"
    assert box.mails[0].envelope_to == ["oncall@example.com"]


@pytest.mark.parametrize(
    ("answer", "retryable"),
    [("451 4.3.0 Local error, try later", True), ("554 5.7.1 Message rejected", False)],
)
async def test_data_answers_are_classified_by_their_code(answer: str, retryable: bool) -> None:
    with smtp_server() as box:
        box.data_answer = answer
        with pytest.raises(DeliveryError) as caught:
            await _sender(_config(box, require_tls=False)).send(notification())
    assert caught.value.retryable is retryable
    assert str(caught.value).startswith(f"SMTP {answer.split()[0]}")


async def test_a_server_that_is_down_is_retried() -> None:
    config = email.Config.model_validate(
        {
            "type": "email",
            "host": "127.0.0.1",
            "port": free_port(),
            "from": "alerts@example.com",
            "to": ["oncall@example.com"],
        }
    )
    with pytest.raises(DeliveryError) as caught:
        await _sender(config).send(notification())
    assert caught.value.retryable
    assert "SMTPConnectError" in str(caught.value)


async def test_implicit_tls_speaks_tls_from_the_first_byte(
    ca: trustme.CA, server_tls: ssl.SSLContext
) -> None:
    # aiosmtpd counts only STARTTLS as TLS for its AUTH rule, so that rule is off here
    with smtp_server(
        ssl_context=server_tls, authenticator=_authenticate, auth_require_tls=False
    ) as box:
        config = _config(
            box,
            implicit_tls=True,
            username=USER,
            password=PASSWORD,
            tls_ca_pem=ca.cert_pem.bytes().decode(),
        )
        assert await _sender(config).send(notification()) == "sent to 2"
        # the same server is not trusted without the CA: refused for good, not retried
        with pytest.raises(DeliveryError) as caught:
            await _sender(_config(box, implicit_tls=True)).send(notification())
    assert box.mails[0].auth is not None
    assert box.mails[0].auth.endswith(f":{USER}")
    assert not caught.value.retryable
    assert "TLS certificate not trusted" in str(caught.value)
    assert len(box.mails) == 1


async def test_auth_on_a_server_that_offers_none_is_not_retried() -> None:
    # aiosmtpd offers AUTH only over TLS; in the clear the client finds no AUTH at all
    with smtp_server(authenticator=_authenticate) as box:
        config = _config(box, require_tls=False, username=USER, password=PASSWORD)
        with pytest.raises(DeliveryError) as caught:
            await _sender(config).send(notification())
    assert not caught.value.retryable
    assert "AUTH" in str(caught.value)
    assert PASSWORD not in str(caught.value)
    assert box.mails == []


async def test_a_failing_quit_after_the_mail_was_taken_is_still_sent() -> None:
    # retrying here would deliver a second copy of a mail the server already accepted
    with smtp_server() as box:
        box.quit_answer = "421 4.3.0 closing in a hurry"
        assert await _sender(_config(box, require_tls=False)).send(notification()) == "sent to 2"
    assert len(box.mails) == 1
