"""What a replay of the consumed batch reads of a ticket's events (`log_of_records`) says what
it reads of the journal's rows of them (`TicketEvent.model_dump(mode="json")`, `log_of_bodies`)."""

from __future__ import annotations

import orjson
import pytest

from pacta.events import TicketEvent
from sla_engine.clocks.events import log_of_bodies, log_of_records
from sla_engine.kafka.tickets import ticket_record
from sla_engine.store.journal import TicketBody

EVENTS: list[dict[str, object]] = [
    {"occurred_at": "2026-12-06T09:30:00Z", "action": "created", "priority": "P2"},
    {"occurred_at": "2026-12-06T09:30:00.123Z", "action": "responded", "labels": {"a": "b"}},
    {"occurred_at": "2026-12-06T11:30:00.5+02:00", "action": "updated", "status": "waiting"},
    {"occurred_at": "2026-12-06T09:30:00-05:30", "action": "resolved", "customer": "c"},
    {"occurred_at": "2026-12-06T09:30:00.123456Z", "action": "updated", "labels": {"a": "c"}},
    {"occurred_at": "2026-12-06T09:30:00.1239Z", "action": "updated", "labels": {"x": "y"}},
]


def _event(n: int, fields: dict[str, object]) -> TicketEvent:
    return TicketEvent.model_validate_json(
        orjson.dumps({"id": f"e{n}", "ticket_id": "t1", "service": "s", **fields})
    )


@pytest.mark.parametrize("fields", EVENTS)
def test_the_log_of_a_record_is_the_log_of_its_journaled_row(fields: dict[str, object]) -> None:
    event = _event(0, fields)
    stored: TicketBody = orjson.loads(event.model_dump_json())  # the journal's jsonb
    assert log_of_records([ticket_record(event)]) == log_of_bodies([stored])


@pytest.mark.parametrize("first", range(len(EVENTS)))
def test_the_log_of_a_batch_is_the_log_of_its_journaled_rows(first: int) -> None:
    """In event time, as the keeper sorts the batch and the journal is read (ties as given),
    the labels of the latest event that carries any."""
    events = [_event(n, f) for n, f in enumerate(EVENTS[first:] + EVENTS[:first])]
    events.sort(key=lambda e: e.occurred_at)
    stored: list[TicketBody] = [orjson.loads(e.model_dump_json()) for e in events]
    assert log_of_records([ticket_record(e) for e in events]) == log_of_bodies(stored)
