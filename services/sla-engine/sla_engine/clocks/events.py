"""Journal events as the clocks take them: a ticket event or its journaled body becomes a
clock event, and a ticket's current labels follow from its bodies."""

from __future__ import annotations

from datetime import datetime

from pacta.durations import datetime_to_ms, parse_timestamp_ms
from sla_engine.domain.ticket_log import TicketEvent as ClockEvent
from sla_engine.kafka.tickets import TicketRecord
from sla_engine.store.journal import TicketBody


def clock_event(event: TicketRecord) -> ClockEvent:
    return ClockEvent(datetime_to_ms(event.occurred_at), event.action, event.status, event.priority)


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


def current_labels(bodies: list[TicketBody]) -> dict[str, str]:
    """A ticket's current labels: those of its latest event (in event time) that carries any;
    an event without labels leaves them as they were."""
    latest: dict[str, str] = {}
    latest_ms = -1
    for body in bodies:
        labels = body.get("labels")
        if labels:
            at = event_ms(body["occurred_at"])
            if at >= latest_ms:
                latest, latest_ms = dict(labels), at
    return latest
