"""A ticket's life as the reports count it, merged from its events in any order: when it was
opened, its current priority and type, and (for a change) when it completed and how."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import NamedTuple

from reporting.domain.periods import utc_day
from reporting.domain.tickets import NO_PRIORITY

Stamp = tuple[int, str]
"""(occurred_ms, event_id): orders a ticket's events the same way whatever order they came in."""


class TicketEventView(NamedTuple):
    event_id: str
    occurred_ms: int
    ticket_id: str
    service: str
    type: str
    action: str
    priority: str | None
    outcome: str | None


class TicketLife(NamedTuple):
    ticket_id: str
    service: str
    type: str
    latest: Stamp
    priority: str | None
    priority_at: Stamp | None
    created_ms: int | None  # the earliest `created` event
    first_ms: int  # the earliest event of any kind (stands in when `created` is missing)
    completed_ms: int | None  # the earliest `resolved` or `closed`
    outcome: str | None
    outcome_at: Stamp | None

    @property
    def opened_ms(self) -> int:
        return self.first_ms if self.created_ms is None else self.created_ms


def merge(life: TicketLife | None, e: TicketEventView) -> TicketLife:
    """Fold one event in; the result depends only on the set of events (each field is a
    minimum or the value of the latest event by (occurred_at, id) that carries it)."""
    stamp = (e.occurred_ms, e.event_id)
    if life is None:
        life = TicketLife(
            e.ticket_id, e.service, e.type, stamp, None, None, None, e.occurred_ms, None, None, None
        )
    newer = stamp > life.latest
    take_priority = e.priority is not None and (
        life.priority_at is None or stamp > life.priority_at
    )
    take_outcome = e.outcome is not None and (life.outcome_at is None or stamp > life.outcome_at)
    created = life.created_ms
    if e.action == "created" and (created is None or e.occurred_ms < created):
        created = e.occurred_ms
    completed = life.completed_ms
    if e.action in ("resolved", "closed") and (completed is None or e.occurred_ms < completed):
        completed = e.occurred_ms
    # one construction per event: a backfill folds millions of them
    return TicketLife(
        life.ticket_id,
        e.service if newer else life.service,
        e.type if newer else life.type,
        stamp if newer else life.latest,
        e.priority if take_priority else life.priority,
        stamp if take_priority else life.priority_at,
        created,
        min(life.first_ms, e.occurred_ms),
        completed,
        e.outcome if take_outcome else life.outcome,
        stamp if take_outcome else life.outcome_at,
    )


@dataclass(frozen=True, slots=True)
class TicketDay:
    """A contribution to one row of the daily ticket aggregate."""

    service: str
    day: date
    kind: str  # opened | change
    priority: str
    count: int
    failed: int


def ticket_days(life: TicketLife) -> list[TicketDay]:
    """A ticket counts as opened on the day it was created; a change counts on the day it
    completed (resolved or closed), failed when its latest outcome says so. Changes are not
    tickets in the ticket figures: they have their own section."""
    if life.type == "change":
        if life.completed_ms is None:
            return []
        failed = 1 if life.outcome == "failed" else 0
        return [TicketDay(life.service, utc_day(life.completed_ms), "change", "", 1, failed)]
    priority = life.priority or NO_PRIORITY
    return [TicketDay(life.service, utc_day(life.opened_ms), "opened", priority, 1, 0)]


def ticket_delta(old: TicketLife | None, new: TicketLife) -> list[TicketDay]:
    out = (
        []
        if old is None
        else [replace(d, count=-d.count, failed=-d.failed) for d in ticket_days(old)]
    )
    return out + ticket_days(new)
