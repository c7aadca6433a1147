"""The `webhook` receiver: the SPEC §5 body, signed (`X-Pacta-Signature` over
`<X-Pacta-Timestamp>.<body>`), with the delivery's stable `Idempotency-Key`."""

from __future__ import annotations

import time
from typing import Literal

import httpx
from pydantic import AnyHttpUrl, ConfigDict, Field, field_validator

from alerting.domain.webhook_body import body, signature
from alerting.receivers.base import DeliveryError, Notification, ReceiverConfig, Sender, http_error


class Config(ReceiverConfig):
    model_config = ConfigDict(extra="forbid")
    SECRET_FIELDS = frozenset({"secret"})

    type: Literal["webhook"]
    url: AnyHttpUrl
    secret: str | None = Field(None, min_length=1, max_length=1024)
    timeout_seconds: float = Field(10.0, gt=0, le=120)

    @field_validator("secret")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class WebhookSender:
    def __init__(self, config: Config, http: httpx.AsyncClient) -> None:
        self.config, self.http = config, http

    async def send(self, notification: Notification) -> str:
        payload = body(notification.status, notification.group_key, notification.alerts)
        # the timestamp is part of what is signed, so a receiver can refuse stale replays
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "pacta-alerting/0.1",
            "Idempotency-Key": notification.idempotency_key,
            "X-Pacta-Timestamp": timestamp,
        }
        if self.config.secret:
            headers["X-Pacta-Signature"] = signature(self.config.secret, timestamp, payload)
        try:
            response = await self.http.post(
                str(self.config.url),
                content=payload,
                headers=headers,
                timeout=self.config.timeout_seconds,
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True) from None
        if response.status_code >= 300:
            raise http_error(response)
        return f"HTTP {response.status_code}"


def build(config: Config, http: httpx.AsyncClient) -> Sender:
    return WebhookSender(config, http)
