"""Alerts as the delivery queue hands them to receivers (the webhook entries of docs/alerting.md), for tests."""

from __future__ import annotations

from typing import Any, Literal

from alerting.receivers.base import Notification

ACK_URL = "https://pacta.example.com/v1/ack/eyJhbGVydCI6ImEtMSJ9.sig"


def breach(**changes: Any) -> dict[str, Any]:
    """A P1 resolution breach of ticket T-42, detected 350 ms after its deadline."""
    alert: dict[str, Any] = {
        "signal_id": "T-42/resolution/breach/1",
        "kind": "breach",
        "service": "checkout",
        "policy": "gold",
        "policy_version": 2,
        "metric": "resolution",
        "ticket_id": "T-42",
        "priority": "P1",
        "threshold": 1.0,
        "deadline": "2026-12-01T14:00:00.000Z",
        "occurred_at": "2026-12-01T14:00:00.000Z",
        "detected_at": "2026-12-01T14:00:00.350Z",
        "customer": "acme",
        "labels": {"team": "payments", "region": "eu"},
        "late": False,
        "elapsed_seconds": 14400.0,
        "target_seconds": 14400.0,
        "alert_id": "alert-T-42-resolution",
        "state": "firing",
        "ack_url": ACK_URL,
    }
    alert.update(changes)
    return alert


def availability(**changes: Any) -> dict[str, Any]:
    """An exhausted error budget of the service checkout (no ticket, no priority)."""
    alert: dict[str, Any] = {
        "signal_id": "checkout/availability/2026-12/availability_breach/1",
        "kind": "availability_breach",
        "service": "checkout",
        "policy": "gold",
        "metric": "availability",
        "threshold": 1.0,
        "deadline": "2026-12-01T10:00:00.000Z",
        "occurred_at": "2026-12-01T10:00:00.000Z",
        "detected_at": "2026-12-01T10:00:00.100Z",
        "labels": {"check": "http"},
        "summary": "downtime exceeded the error budget of 2592s in 2026-12",
        "alert_id": "alert-checkout-availability",
        "state": "firing",
        "ack_url": ACK_URL,
    }
    alert.update(changes)
    return alert


def notification(
    *alerts: dict[str, Any],
    status: Literal["firing", "resolved"] = "firing",
    key: str = "delivery-1",
    receiver: str = "oncall",
) -> Notification:
    return Notification(
        receiver=receiver,
        group_key='{}:{service="checkout"}',
        status=status,
        alerts=tuple(alerts) or (breach(),),
        idempotency_key=key,
    )
