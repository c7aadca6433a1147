"""From the clocks' signal intents to the signals of SPEC §4.4: ids per occurrence, detection
time, the `late` flag, and the fields alerting and reporting route on."""

from __future__ import annotations

from typing import Any

from pacta.durations import format_timestamp_ms
from pacta.events import Signal
from sla_engine.domain.clocks import SignalIntent, SignalKey
from sla_engine.domain.tickets import Ticket

LATE_AFTER_MS = 2_000
"""A signal detected more than this after its instant came from a replay or a restart, not from
the live timer: it carries `late: true` so receivers can tell a backfill from a live breach."""


def clock_signal_id(key: SignalKey, generation: int = 1) -> str:
    """`<ticket>/<metric>/<kind>/<threshold>`, then `@<episode>` from the first reopen on and
    `#<n>` for the n-th occurrence of the same condition after n - 1 retractions of it.

    Both parts are derived from what is on record (the clock's reopens, the retractions), never
    from a counter in memory, so a replay, a restart or two instances during a rebalance give
    one occurrence the same id, and a new occurrence never reuses a retracted one's."""
    ticket_id, metric, kind, threshold, episode = key
    mark = f"before-{-threshold:g}s" if threshold < 0 else f"{threshold:g}"
    text = f"{ticket_id}/{metric}/{kind}/{mark}"
    if episode > 1:
        text += f"@{episode}"
    if generation > 1:
        text += f"#{generation}"
    return text


def from_intent(intent: SignalIntent, ticket: Ticket, detected_ms: int, generation: int) -> Signal:
    target = intent.target_ms
    threshold, summary = intent.threshold, None
    if threshold < 0 and target:
        # a `warn_before` warning: the fraction of the target it stands at, and which one it is
        summary = (
            f"warn_before {-threshold:g}s: {-threshold:g}s of working time before the deadline"
        )
        threshold = (target + threshold * 1000) / target
    return Signal(
        signal_id=clock_signal_id(intent.key, generation),
        kind=intent.kind,
        service=intent.service,
        policy=intent.policy,
        metric=intent.metric,
        ticket_id=intent.ticket_id,
        priority=intent.priority,
        threshold=threshold,
        deadline=_ts(intent.deadline_ms),
        occurred_at=_ts(intent.occurred_at_ms),
        detected_at=_ts(detected_ms),
        customer=ticket.customer,
        labels=ticket.labels,
        late=detected_ms - intent.occurred_at_ms > LATE_AFTER_MS,
        elapsed_seconds=intent.elapsed_ms / 1000,
        target_seconds=None if target is None else target / 1000,
        summary=summary,
        policy_version=intent.policy_version or None,
        calendar_version=intent.calendar_version or None,
    )


def retraction(ticket: Ticket, detected_ms: int, standing: dict[str, Any]) -> Signal:
    """The `retracted` signal for a standing signal a late event proved wrong; its id is the
    retracted signal's id with `/retracted`, so each retraction has one id of its own."""
    return Signal(
        signal_id=f"{standing['signal_id']}/retracted",
        kind="retracted",
        service=ticket.service,
        policy=standing.get("policy") or ticket.rules.policy,
        metric=standing["metric"],
        ticket_id=ticket.ticket_id,
        priority=standing.get("priority"),
        threshold=standing.get("threshold"),
        deadline=standing.get("deadline"),
        occurred_at=standing.get("occurred_at") or _ts(detected_ms),
        detected_at=_ts(detected_ms),
        customer=ticket.customer,
        labels=ticket.labels,
        late=True,
        retracts=standing["signal_id"],
        summary=f"{standing.get('kind')} {standing['signal_id']} did not happen",
        policy_version=standing.get("policy_version"),
        calendar_version=standing.get("calendar_version"),
    )


def _ts(ms: int | None) -> str | None:
    return None if ms is None else format_timestamp_ms(ms)
