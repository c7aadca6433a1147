"""From the clocks' signal intents to the signals of SPEC §4.4: stable ids, detection time,
the `late` flag, and the fields alerting and reporting route on."""

from __future__ import annotations

from typing import Any

from pacta.durations import format_timestamp_ms
from pacta.events import Signal
from sla_engine.clocks import SignalIntent, SignalKey
from sla_engine.tickets import Ticket

LATE_AFTER_MS = 2_000
"""A signal detected more than this after its instant came from a replay or a restart, not from
the live timer: it carries `late: true` so receivers can tell a backfill from a live breach."""


def clock_signal_id(key: SignalKey) -> str:
    ticket_id, metric, kind, threshold = key
    return f"{ticket_id}/{metric}/{kind}/{threshold:g}"


def from_intent(intent: SignalIntent, ticket: Ticket, detected_ms: int) -> Signal:
    clock = ticket.clocks.get(intent.metric)
    return Signal(
        signal_id=clock_signal_id(intent.key),
        kind=intent.kind,
        service=intent.service,
        policy=intent.policy,
        metric=intent.metric,
        ticket_id=intent.ticket_id,
        priority=intent.priority,
        threshold=intent.threshold,
        deadline=_ts(intent.deadline_ms),
        occurred_at=_ts(intent.occurred_at_ms),
        detected_at=_ts(detected_ms),
        customer=ticket.customer,
        labels=ticket.labels,
        late=detected_ms - intent.occurred_at_ms > LATE_AFTER_MS,
        elapsed_seconds=None if clock is None else clock.elapsed_at(intent.occurred_at_ms) / 1000,
        target_seconds=None if clock is None or clock.target_ms is None else clock.target_ms / 1000,
    )


def retraction(key: SignalKey, ticket: Ticket, detected_ms: int, breach: dict[str, Any]) -> Signal:
    """The `retracted` signal for a breach a late event proved wrong."""
    ticket_id, metric, _kind, threshold = key
    return Signal(
        signal_id=clock_signal_id((ticket_id, metric, "retracted", threshold)),
        kind="retracted",
        service=ticket.service,
        policy=ticket.rules.policy,
        metric=metric,
        ticket_id=ticket_id,
        priority=breach.get("priority"),
        threshold=threshold,
        deadline=breach.get("deadline"),
        occurred_at=breach.get("occurred_at") or _ts(detected_ms),
        detected_at=_ts(detected_ms),
        customer=ticket.customer,
        labels=ticket.labels,
        late=True,
        retracts=clock_signal_id(key),
    )


def _ts(ms: int | None) -> str | None:
    return None if ms is None else format_timestamp_ms(ms)
