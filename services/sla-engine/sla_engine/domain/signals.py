"""From the clocks' signal intents to the signals docs/api.md lists: ids per occurrence, detection
time, the `late` flag, and the fields alerting and reporting route on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from pacta.durations import format_timestamp_ms, parse_timestamp_ms
from pacta.events import Signal
from sla_engine.domain.clocks import SignalIntent, SignalKey, Stamp
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


def body_stamp(body: dict[str, Any]) -> Stamp:
    """A recorded signal body's `Stamp` (what a replay compares with its intent's `stamp`)."""
    deadline, target = body.get("deadline"), body.get("target_seconds")
    return (
        parse_timestamp_ms(body["occurred_at"]),
        None if deadline is None else parse_timestamp_ms(deadline),
        body.get("priority"),
        body.get("policy") or "",
        body.get("policy_version") or 0,
        body.get("calendar_version") or 0,
        None if target is None else round(target * 1000),
        round((body.get("elapsed_seconds") or 0) * 1000),
    )


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


# ---- the same signals as JSON-ready dicts, without a model per signal ----------------------
# A backfill emits two signals per event; validating a `Signal` and dumping it again cost the
# engine a fifth of its time. These build what `Signal.model_dump(mode="json")` gives, key for
# key (tests/unit/sla_engine/test_signal_bodies.py holds them to it).


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=4096)
def _date(day: int) -> str:
    return (_EPOCH + timedelta(days=day)).date().isoformat()


@lru_cache(maxsize=65_536)
def _text(ms: int, zone: str) -> str:
    seconds, millis = divmod(ms, 1000)
    day, second = divmod(seconds, 86_400)
    hour, rest = divmod(second, 3600)
    minute, sec = divmod(rest, 60)
    fraction = f".{millis:03d}000" if millis else ""
    return f"{_date(day)}T{hour:02d}:{minute:02d}:{sec:02d}{fraction}{zone}"


def json_time(ms: int) -> str:
    """An instant as pydantic writes a UTC datetime: seconds, then microseconds if any, `Z`."""
    return _text(ms, "Z")


def iso_time(ms: int) -> str:
    """`ms_to_datetime(ms).isoformat()` (what clock facts carry), without the datetime."""
    return _text(ms, "+00:00")


def signal_body(
    intent: SignalIntent, ticket: Ticket, detected_ms: int, generation: int
) -> dict[str, Any]:
    """`from_intent(...).model_dump(mode="json")`, built directly."""
    target = intent.target_ms
    threshold, summary = intent.threshold, None
    if threshold < 0 and target:
        summary = (
            f"warn_before {-threshold:g}s: {-threshold:g}s of working time before the deadline"
        )
        threshold = (target + threshold * 1000) / target
    deadline = intent.deadline_ms
    return {
        "signal_id": clock_signal_id(intent.key, generation),
        "kind": intent.kind,
        "service": intent.service,
        "policy": intent.policy,
        "metric": intent.metric,
        "ticket_id": intent.ticket_id,
        "priority": intent.priority,
        "threshold": float(threshold),
        "deadline": None if deadline is None else json_time(deadline),
        "occurred_at": json_time(intent.occurred_at_ms),
        "detected_at": json_time(detected_ms),
        "customer": ticket.customer,
        "labels": dict(ticket.labels),
        "late": detected_ms - intent.occurred_at_ms > LATE_AFTER_MS,
        "retracts": None,
        "elapsed_seconds": intent.elapsed_ms / 1000,
        "target_seconds": None if target is None else target / 1000,
        "summary": summary,
        # the versions it was computed under (docs/design.md, "SLA clocks": policy and calendar versions); 0 (none known) is told as null
        "policy_version": intent.policy_version or None,
        "calendar_version": intent.calendar_version or None,
    }


def retraction_body(ticket: Ticket, detected_ms: int, standing: dict[str, Any]) -> dict[str, Any]:
    """`retraction(...).model_dump(mode="json")`, built directly (`standing` is a body as
    recorded, its instants already in the form written)."""
    threshold = standing.get("threshold")
    return {
        "signal_id": f"{standing['signal_id']}/retracted",
        "kind": "retracted",
        "service": ticket.service,
        "policy": standing.get("policy") or ticket.rules.policy,
        "metric": standing["metric"],
        "ticket_id": ticket.ticket_id,
        "priority": standing.get("priority"),
        "threshold": None if threshold is None else float(threshold),
        "deadline": standing.get("deadline"),
        "occurred_at": standing.get("occurred_at") or json_time(detected_ms),
        "detected_at": json_time(detected_ms),
        "customer": ticket.customer,
        "labels": dict(ticket.labels),
        "late": True,
        "retracts": standing["signal_id"],
        "elapsed_seconds": None,
        "target_seconds": None,
        "summary": f"{standing.get('kind')} {standing['signal_id']} did not happen",
        # a retraction names the versions of what it retracts
        "policy_version": standing.get("policy_version"),
        "calendar_version": standing.get("calendar_version"),
    }
