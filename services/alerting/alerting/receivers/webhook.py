"""The `webhook` receiver: the body of docs/alerting.md, signed (`X-Pacta-Signature` over
`<X-Pacta-Timestamp>.<body>`), with the delivery's stable `Idempotency-Key`. Sent with the small
keep-alive client of `http1` (the hot path of every group's notification); a redirect is
followed by aiohttp, as every answer was before."""

from __future__ import annotations

import asyncio
import time
from typing import Literal

import aiohttp
from pydantic import ConfigDict, Field, field_validator

from alerting.domain.webhook_body import body, signature
from alerting.receivers import http1
from alerting.receivers.base import DeliveryError, Notification, ReceiverConfig, Sender
from alerting.receivers.common import HttpUrl

# the delivery worker hands this module its http1 pool and its aiohttp session
CLIENT = "http1"


class Config(ReceiverConfig):
    model_config = ConfigDict(extra="forbid")
    SECRET_FIELDS = frozenset({"secret"})

    type: Literal["webhook"]
    url: HttpUrl  # kept as written; a line break or other control character is refused
    secret: str | None = Field(None, min_length=1, max_length=1024)
    timeout_seconds: float = Field(10.0, gt=0, le=120)

    @field_validator("secret")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


def _http_error(status: int, retry_after: str | None, text: str) -> DeliveryError:
    """Alertmanager's classification: 5xx and 429 retry, other 4xx do not (the request itself
    is wrong and would fail again); a Retry-After in seconds is the receiver's hint."""
    hint = float(retry_after.strip()) if retry_after and retry_after.strip().isdigit() else None
    return DeliveryError(
        f"HTTP {status}: {text[:200]}",
        retryable=status >= 500 or status == 429,
        retry_after=hint,
    )


class WebhookSender:
    def __init__(self, config: Config, clients: tuple[http1.Pool, aiohttp.ClientSession]) -> None:
        self.config = config
        self.pool, self.http = clients
        self.url = str(config.url)
        self.target = http1.Target.of(self.url)
        self.timeout_s = config.timeout_seconds
        self.timeout = aiohttp.ClientTimeout(total=config.timeout_seconds)

    async def send(self, notification: Notification) -> str:
        payload = body(notification.status, notification.group_key, notification.alerts)
        # the timestamp is part of what is signed, so a receiver can refuse stale replays
        timestamp = str(int(time.time()))
        headers = [
            ("Content-Type", "application/json"),
            ("User-Agent", "pacta-alerting/0.1"),
            ("Idempotency-Key", notification.idempotency_key),
            ("X-Pacta-Timestamp", timestamp),
        ]
        if self.config.secret:
            headers.append(("X-Pacta-Signature", signature(self.config.secret, timestamp, payload)))
        try:
            answer = await self.pool.post(self.target, headers, payload, self.timeout_s)
            status = answer.status
            if 300 <= status < 400:
                # a redirect: aiohttp follows it (the body is the same, the signature too)
                return await self._send_following(payload, dict(headers))
            if status >= 300:
                text = answer.body[:4096].decode("utf-8", "replace")
                raise _http_error(status, answer.headers.get("retry-after"), text)
        except TimeoutError:
            raise DeliveryError("timed out", retryable=True) from None
        except (
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            http1.ProtocolError,
        ) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True) from None
        return f"HTTP {status}"

    async def _send_following(self, payload: bytes, headers: dict[str, str]) -> str:
        try:
            async with self.http.post(
                self.url, data=payload, headers=headers, timeout=self.timeout
            ) as response:
                status = response.status
                if status >= 300:
                    text = (await response.content.read(4096)).decode("utf-8", "replace")
                    raise _http_error(status, response.headers.get("Retry-After"), text)
                # read to the end: the connection goes back to the pool for the next POST
                await response.read()
        except TimeoutError:
            raise DeliveryError("timed out", retryable=True) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True) from None
        return f"HTTP {status}"


def build(config: Config, clients: tuple[http1.Pool, aiohttp.ClientSession]) -> Sender:
    return WebhookSender(config, clients)
