"""The one interface every receiver type implements: send a notification, or say whether the
failure is worth retrying. The delivery queue owns retries, backoff and recording attempts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal, NamedTuple, Protocol

import httpx
from pydantic import BaseModel


class Notification(NamedTuple):
    """What one delivery attempt sends to one receiver.

    `alerts` are the webhook body's entries: every signal field (docs/alerting.md; `signal_id`,
    `kind`, `service`, `metric`, `ticket_id`, `priority`, `deadline`, `occurred_at`,
    `elapsed_seconds`, `target_seconds`, `labels`, ...) plus `alert_id`, `state` and `ack_url`.
    The same `idempotency_key` is sent on every attempt of one delivery."""

    receiver: str
    group_key: str
    status: Literal["firing", "resolved"]
    alerts: tuple[Mapping[str, Any], ...]
    idempotency_key: str


class DeliveryError(Exception):
    """A failed attempt. `retryable` False ends the delivery at once (kept for replay);
    `retry_after` (seconds) is the receiver's own hint, e.g. an HTTP 429's Retry-After."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class ReceiverConfig(BaseModel):
    """Base of each type's config model (the body of `PUT /v1/receivers/{name}`).

    Subclasses set `type: Literal["..."]`, forbid extra fields and list their write-only
    fields in `SECRET_FIELDS`; a GET shows those only as `"<set>"`."""

    SECRET_FIELDS: ClassVar[frozenset[str]] = frozenset()


class Sender(Protocol):
    """One configured receiver. `send` returns a short outcome for the delivery log (e.g.
    `"HTTP 200"`) or raises `DeliveryError`; any other exception counts as retryable."""

    async def send(self, notification: Notification) -> str: ...


def http_error(response: httpx.Response) -> DeliveryError:
    """Classify an HTTP answer the way Alertmanager's notifiers do: 5xx and 429 retry, other
    4xx do not (the request itself is wrong and would fail again)."""
    retry_after: float | None = None
    header = response.headers.get("retry-after")
    if header and header.strip().isdigit():
        retry_after = float(header.strip())
    retryable = response.status_code >= 500 or response.status_code == 429
    return DeliveryError(
        f"HTTP {response.status_code}: {response.text[:200]}",
        retryable=retryable,
        retry_after=retry_after,
    )
