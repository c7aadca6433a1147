"""Journal events as the clocks take them: a ticket event or its journaled body becomes a
clock event, and a ticket's log (what a replay reads) follows from its bodies, or from the
consumed batch's records when they are all it has."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import NamedTuple

from pacta.durations import datetime_to_ms, parse_timestamp_ms
from sla_engine.domain.ticket_log import TicketEvent as ClockEvent
from sla_engine.kafka.tickets import TicketRecord
from sla_engine.store.journal import TicketBody


def clock_event(event: TicketRecord) -> ClockEvent:
    return ClockEvent(event.at_ms, event.action, event.status, event.priority)


def event_ms(text: str) -> int:
    """`parse_timestamp_ms` of a journaled `occurred_at`, in C for the two forms pydantic
    writes (`...T09:00:00Z`, `...T09:00:00.123000Z`); any other text goes the strict way."""
    if len(text) in (20, 27) and text[10] == "T" and text[-1] == "Z":
        return datetime_to_ms(datetime.fromisoformat(text))
    return parse_timestamp_ms(text)


def clock_event_body(body: TicketBody) -> ClockEvent:
    return ClockEvent(
        event_ms(body["occurred_at"]),
        body["action"],
        body.get("status"),
        body.get("priority"),
    )


class TicketLog(NamedTuple):
    """What a replay reads of a ticket's journal: its first event's service, customer and type
    (which policy measures it), its current labels, and its events as the clocks take them,
    in the journal's order (event time)."""

    service: str
    customer: str | None
    ticket_type: str
    labels: dict[str, str]
    events: list[ClockEvent]


def log_of_bodies(bodies: list[TicketBody]) -> TicketLog:
    """The log of a ticket's journaled bodies (at least one), oldest first."""
    first, events = bodies[0], [clock_event_body(b) for b in bodies]
    labels = latest_labels(
        [(b.get("labels"), e.at_ms) for b, e in zip(bodies, events, strict=True)]
    )
    return TicketLog(
        first["service"], first.get("customer"), first.get("type", "incident"), labels, events
    )


def log_of_records(records: list[TicketRecord]) -> TicketLog:
    """The log `log_of_bodies` reads of these records once journaled (at least one, in event
    time): the same, without writing their bodies and parsing them back."""
    first = records[0]
    labels = latest_labels([(e.labels, e.at_ms) for e in records])
    return TicketLog(
        first.service, first.customer, first.type, labels, [clock_event(e) for e in records]
    )


def latest_labels(events: Iterable[tuple[Mapping[str, str] | None, int]]) -> dict[str, str]:
    """A ticket's current labels from its events' (labels, instant): those of its latest event
    (in event time; at one instant, the later given) that carries any; an event without labels
    leaves them as they were."""
    latest: Mapping[str, str] = {}
    latest_ms = -1
    for labels, at in events:
        if labels and at >= latest_ms:
            latest, latest_ms = labels, at
    return dict(latest)
