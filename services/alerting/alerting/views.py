"""How alerts look over the API: their current state (silenced and inhibited are worked out
now, from the live silences and rules), their signal's fields, receivers and history."""

from __future__ import annotations

from typing import Any

from alerting.context import Context
from alerting.domain import muting
from alerting.domain.alerts import Alert
from alerting.store.alerts import AlertRecord, HistoryRow
from alerting.store.deliveries import Attempt, DeliveryRow
from pacta.durations import format_timestamp_ms


def current_state(
    ctx: Context, alert: Alert, sources: list[tuple[str, dict[str, str]]], now_ms: int
) -> str:
    if alert.state != "firing":
        return alert.state
    if muting.silenced_by(ctx.live.silences, alert.labels, now_ms):
        return "silenced"
    if ctx.live.inhibit and muting.inhibited(ctx.live.inhibit, alert.id, alert.labels, sources):
        return "inhibited"
    return "firing"


def _ts(ms: int | None) -> str | None:
    return format_timestamp_ms(ms) if ms is not None else None


def alert_view(record: AlertRecord, state: str, history: list[HistoryRow]) -> dict[str, Any]:
    alert = record.alert
    return {
        **alert.signal.model_dump(mode="json"),
        "id": alert.id,
        "alert_id": alert.id,
        "key": alert.key,
        "state": state,
        "routing_labels": dict(alert.labels),
        "fired_at": _ts(alert.fired_at_ms),
        "resolved_at": _ts(alert.resolved_at_ms),
        "acknowledged_at": _ts(alert.acked_at_ms),
        "acknowledged_by": alert.acked_by,
        "receivers": list(record.receivers),
        "signals": list(record.signals),
        "history": [{"at": h.at.isoformat(), "event": h.event, **h.detail} for h in history],
    }


def delivery_view(row: DeliveryRow, attempts: list[Attempt]) -> dict[str, Any]:
    return {
        "id": row.id,
        "idempotency_key": row.idempotency_key,
        "receiver": row.receiver,
        "group_key": row.group_key,
        "status": row.status,
        "alert_ids": list(row.alert_ids),
        "outcome": row.state,
        "attempts": [
            {
                "attempt": a.attempt,
                "started_at": a.started_at.isoformat(),
                "finished_at": a.finished_at.isoformat(),
                "outcome": a.outcome,
                "detail": a.detail,
            }
            for a in attempts
        ],
        "attempt_count": row.attempts,
        "next_attempt_at": row.next_attempt_at.isoformat() if row.state == "pending" else None,
        "created_at": row.created_at.isoformat(),
        "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
        "last_error": row.last_error,
    }
