"""The `email` receiver: one multipart/alternative mail (text and HTML from Jinja2 templates) over
SMTP with aiosmtplib, STARTTLS required unless `require_tls` is false, optional AUTH."""

from __future__ import annotations

import contextlib
import hashlib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from functools import cache
from typing import Annotated, ClassVar, Literal

import aiosmtplib
import httpx
from email_validator import EmailNotValidError, validate_email
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, model_validator

from alerting.receivers.base import DeliveryError, Notification, ReceiverConfig, Sender
from alerting.receivers.common import Line, no_controls, secret
from alerting.receivers.render import render
from alerting.receivers.report_mail import is_report, report_message

TIMEOUT_SECONDS = 30.0
"""Per SMTP step: long enough for a slow relay, short enough that a hung one is retried."""


def _address(value: str) -> str:
    # one address, optionally with a display name ("On-call <oncall@example.com>")
    parsed = getaddresses([value])
    if len(parsed) != 1 or not parsed[0][1]:
        raise ValueError("must be one e-mail address")
    try:
        # internal domains (corp.internal, a bare mailhost) are real destinations here; special-use
        # names (.local, .invalid, .test) are still refused by the library
        validate_email(parsed[0][1], check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as exc:
        raise ValueError(f"is not a valid e-mail address: {exc}") from None
    return value


def _ca_pem(value: str) -> str:
    if not value.isascii():  # ssl raises TypeError, not ValueError, on anything else
        raise ValueError("is not a PEM certificate bundle: PEM is ASCII")
    try:
        ssl.create_default_context(cadata=value)
    except (ssl.SSLError, ValueError) as exc:
        raise ValueError(f"is not a PEM certificate bundle: {exc}") from None
    return value


Address = Annotated[
    str,
    StringConstraints(min_length=3, max_length=320),
    AfterValidator(no_controls),
    AfterValidator(_address),
]
Host = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,253}$")]


class Config(ReceiverConfig):
    """SMTP settings as Alertmanager's email_config has them; `password` is write-only."""

    model_config = ConfigDict(
        extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )
    SECRET_FIELDS: ClassVar[frozenset[str]] = frozenset({"password"})

    type: Literal["email"]
    host: Host
    port: int = Field(587, ge=1, le=65535)
    from_: Address = Field(alias="from")
    to: list[Address] = Field(min_length=1, max_length=100)
    require_tls: bool = True
    username: Line | None = None
    password: Line | None = secret(None)
    hello: Host | None = None
    tls_ca_pem: (
        Annotated[str, StringConstraints(max_length=100_000), AfterValidator(_ca_pem)] | None
    ) = None
    tls_insecure_skip_verify: bool = False
    implicit_tls: bool | None = None
    """TLS from the first byte (SMTPS) instead of STARTTLS; unset: on port 465, as Alertmanager."""

    @property
    def smtps(self) -> bool:
        return self.port == 465 if self.implicit_tls is None else self.implicit_tls

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        # options that would be accepted and then ignored are refused instead
        if self.username is not None and self.password is None:
            raise ValueError("password: required when username is set")
        if self.password is not None and self.username is None:
            raise ValueError("username: required when password is set")
        tls = self.require_tls or self.smtps
        if not tls and self.tls_ca_pem:
            raise ValueError("tls_ca_pem: only used with require_tls: true or implicit_tls")
        if not tls and self.tls_insecure_skip_verify:
            raise ValueError(
                "tls_insecure_skip_verify: only used with require_tls: true or implicit_tls"
            )
        if self.tls_ca_pem and self.tls_insecure_skip_verify:
            raise ValueError("tls_ca_pem: not used with tls_insecure_skip_verify: true")
        return self


@cache
def _templates() -> Environment:
    # autoescape for the HTML part only: the text part is not HTML and must not be escaped
    return Environment(
        loader=PackageLoader("alerting.receivers", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def _domain(address: str) -> str:
    addr = getaddresses([address])[0][1]
    return addr.rpartition("@")[2] or "pacta.invalid"


def message(notification: Notification, config: Config, now: datetime) -> EmailMessage:
    """The mail of one delivery attempt; only `Date` differs between attempts."""
    if is_report(notification):  # an issued report for a subscription, not an alert
        return report_message(notification, config.from_, config.to, now)
    rendered = render(notification)
    domain = _domain(config.from_)
    key = hashlib.sha256(notification.idempotency_key.encode()).hexdigest()[:40]
    thread = hashlib.sha256(f"{notification.receiver}\n{notification.group_key}".encode())
    msg = EmailMessage()
    msg["Subject"] = rendered.title
    msg["From"] = config.from_
    msg["To"] = ", ".join(config.to)
    msg["Date"] = format_datetime(now)
    # the same delivery retried carries the same Message-ID, so a mail store can drop the copy
    msg["Message-ID"] = f"<{key}@{domain}>"
    # every notification of one group replies to one thread root
    msg["References"] = f"<group-{thread.hexdigest()[:40]}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    env = _templates()
    msg.set_content(env.get_template("mail.txt").render(n=rendered))
    msg.add_alternative(env.get_template("mail.html").render(n=rendered), subtype="html")
    return msg


def tls_context(config: Config) -> ssl.SSLContext:
    """Verification as configured: the system's CAs, or `tls_ca_pem`, or none at all."""
    context = ssl.create_default_context(cadata=config.tls_ca_pem)
    if config.tls_insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def classify(exc: Exception) -> DeliveryError:
    """Alertmanager's rule for SMTP: a 4xx reply or a broken connection may pass, a 5xx will not."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        return DeliveryError(
            f"all recipients refused: {detail}", retryable=any(c < 500 for c in codes)
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return DeliveryError(f"SMTP {exc.code}: {exc.message}", retryable=exc.code < 500)
    cause: BaseException | None = exc
    while cause is not None:  # aiosmtplib wraps a failed implicit-TLS handshake in its own error
        if isinstance(cause, ssl.SSLCertVerificationError):
            return DeliveryError(
                f"TLS certificate not trusted: {cause.verify_message}", retryable=False
            )
        cause = cause.__cause__
    if isinstance(exc, aiosmtplib.SMTPException) and "AUTH" in str(exc):
        return DeliveryError(f"{exc} (username is set)", retryable=False)
    # refused, reset, timed out, a TLS handshake cut short: all may work the next time
    return DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True)


class EmailSender:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.tls = tls_context(config) if config.require_tls or config.smtps else None

    async def send(self, notification: Notification) -> str:
        config = self.config
        msg = message(notification, config, datetime.now(UTC))
        smtp = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            local_hostname=config.hello,
            use_tls=config.smtps,
            tls_context=self.tls,
            start_tls=False,  # decided below, after EHLO, as require_tls says
            timeout=TIMEOUT_SECONDS,
        )
        try:
            await smtp.connect()
            errors = await self._transact(smtp, msg)
        except DeliveryError:
            raise
        except Exception as exc:
            raise classify(exc) from None
        finally:
            smtp.close()
        if errors:
            # the others have the mail: a retry would send them a copy; the refusals are logged
            refused = ", ".join(f"{addr} ({r.code})" for addr, r in sorted(errors.items()))
            return f"sent to {len(config.to) - len(errors)} of {len(config.to)}; refused {refused}"
        return f"sent to {len(config.to)}"

    async def _transact(
        self, smtp: aiosmtplib.SMTP, msg: EmailMessage
    ) -> dict[str, aiosmtplib.SMTPResponse]:
        config = self.config
        await smtp.ehlo()
        if config.require_tls and not config.smtps:
            if not smtp.supports_extension("starttls"):
                raise DeliveryError(
                    f"require_tls is true but {config.host}:{config.port} does not offer "
                    "STARTTLS (set require_tls: false only for a trusted local relay)",
                    retryable=False,
                )
            await smtp.starttls(tls_context=self.tls)
        if config.username is not None and config.password is not None:
            await smtp.login(config.username, config.password)
        errors, _ = await smtp.send_message(msg)
        # the server has taken the mail: a failing QUIT must not make it retry (a second copy)
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await smtp.quit()
        return errors


def build(config: Config, http: httpx.AsyncClient) -> Sender:
    return EmailSender(config)
