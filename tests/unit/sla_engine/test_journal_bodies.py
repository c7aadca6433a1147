"""A ticket event's body as a replay of the consumed batch reads it (`journal_body`) says what
the journal's row of it says (`TicketEvent.model_dump(mode="json")`), key for key."""

from __future__ import annotations

import orjson
import pytest

from pacta.events import TicketEvent
from sla_engine.clocks.events import clock_event_body, current_labels
from sla_engine.kafka.tickets import ticket_record
from sla_engine.store.journal import TicketBody, journal_body


@pytest.mark.parametrize(
    "fields",
    [
        {"occurred_at": "2026-12-06T09:30:00Z", "action": "created", "priority": "P2"},
        {"occurred_at": "2026-12-06T09:30:00.123Z", "action": "responded", "labels": {"a": "b"}},
        {"occurred_at": "2026-12-06T11:30:00.5+02:00", "action": "updated", "status": "waiting"},
        {"occurred_at": "2026-12-06T09:30:00-05:30", "action": "resolved", "customer": "c"},
    ],
)
def test_journal_body_says_what_the_journaled_row_says(fields: dict[str, object]) -> None:
    event = TicketEvent.model_validate_json(
        orjson.dumps({"id": "e1", "ticket_id": "t1", "service": "s", **fields})
    )
    body = journal_body(ticket_record(event))
    stored: TicketBody = orjson.loads(event.model_dump_json())  # the journal's jsonb
    assert {k: stored.get(k) for k in body} == body
    assert set(TicketBody.__annotations__) == set(body)
    assert clock_event_body(body) == clock_event_body(stored)
    assert current_labels([body]) == current_labels([stored])
