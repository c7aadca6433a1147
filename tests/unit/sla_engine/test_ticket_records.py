"""The consumer's fast decoding of ticket events (`sla_engine.kafka.tickets`), judged by the
model it stands in for: whatever JSON it takes, `TicketEvent` takes too, with the same values
and the same journal JSON; whatever the model rejects, the decoding rejects."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pacta.events import TicketEvent
from sla_engine.kafka.tickets import decode_ticket, fast_ticket, ticket_record

_NAMES = st.one_of(
    st.sampled_from(["t-1", "svc", "a b", " pad", "pad ", "", "x" * 200, "x" * 201, "é", "a\tb"]),
    st.text(max_size=8),
)
_TIMES = st.one_of(
    st.sampled_from(
        [
            "2026-12-06T09:30:00Z",
            "2026-12-06T09:30:00.123Z",
            "2026-12-06T09:30:00.000Z",
            "2026-12-06T09:30:00.1234567Z",
            "2026-12-06T11:30:00.5+02:00",
            "2026-12-06T09:30:00-05:30",
            "2026-12-06t09:30:00z",
            "2026-12-06 09:30:00Z",
            "2026-12-06T09:30:60Z",
            "2026-13-06T09:30:00Z",
            "2026-12-06T09:30Z",
            "2026-12-06T09:30:00",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-01:00",
            "2026-12-06T09:30:00+24:00",
        ]
    ),
    st.integers(0, 2**40),
)
_TEXTS = st.one_of(st.none(), st.text(max_size=6), st.just("a\x00b"), st.integers(0, 9))
_FIELDS: dict[str, Any] = {
    "id": st.one_of(st.none(), _NAMES),
    "occurred_at": _TIMES,
    "source": st.one_of(st.none(), _NAMES),
    "summary": _TEXTS,
    "labels": st.one_of(
        st.none(),
        st.dictionaries(_NAMES, st.one_of(st.text(max_size=4), st.just("\x00")), max_size=3),
        st.just([]),
    ),
    "received_at": st.one_of(st.none(), _TIMES),
    "ticket_id": _NAMES,
    "service": _NAMES,
    "type": st.sampled_from(["incident", "change", "bogus", None]),
    "priority": st.sampled_from(["P1", "P4", "P5", None, 1]),
    "action": st.sampled_from(["created", "resolved", "reopened", "deleted", None]),
    "status": _TEXTS,
    "customer": st.one_of(st.none(), _NAMES),
    "outcome": st.sampled_from(["successful", "failed", "other", None]),
    "assignee": _TEXTS,
    "extra": st.just(1),
}
_REQUIRED = {"occurred_at": "2026-12-06T09:30:00Z", "ticket_id": "t", "service": "s"}


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    fields = draw(st.lists(st.sampled_from(sorted(_FIELDS)), unique=True, max_size=9))
    body: dict[str, Any] = {"action": "created", **_REQUIRED}
    for name in fields:
        body[name] = draw(_FIELDS[name])
    return orjson.dumps(body)


@settings(max_examples=600, deadline=None)
@given(bodies())
@example(b'{"ticket_id":"t","service":"s","action":"created","occurred_at":"2026-12-06T09:30:00Z"}')
@example(b"[]")
@example(b"{")
def test_the_fast_decoding_takes_what_the_model_takes_as_the_model_takes_it(value: bytes) -> None:
    try:
        expected = ticket_record(TicketEvent.model_validate_json(value))
    except ValidationError:
        with pytest.raises(ValidationError):
            decode_ticket(value)
        assert fast_ticket(value) is None
        return
    assert decode_ticket(value) == expected
    fast = fast_ticket(value)
    if fast is not None:
        assert fast == expected  # the journal's JSON to the byte


def test_the_benchs_events_take_the_fast_path() -> None:
    value = (
        b'{"id":"E1-created","occurred_at":"2025-12-06T05:46:40.001Z","source":"bench",'
        b'"received_at":"2025-12-06T05:46:40.000Z","ticket_id":"E1","service":"svc-1",'
        b'"type":"incident","action":"created","customer":"cust-1","priority":"P2",'
        b'"status":"open","labels":{"team":"a"}}'
    )
    assert fast_ticket(value) == ticket_record(TicketEvent.model_validate_json(value))
