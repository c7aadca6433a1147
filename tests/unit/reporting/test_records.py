"""The lean decoding of ticket and monitoring events and instants: whatever path a record
takes, it is refused or taken exactly as the `TicketEvent` and `MonitoringEvent` models and the
strict timestamp parser do."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacta.durations import format_timestamp_ms, parse_timestamp_ms
from pacta.events import MonitoringEvent, TicketEvent
from reporting.domain.instants import instant_ms
from reporting.records import (
    _lean,
    _lean_service,
    decode_ticket,
    monitoring_service,
    ticket_view,
)

BASE = {
    "id": "T1-0",
    "occurred_at": "2026-01-03T04:05:06.123Z",
    "ticket_id": "T1",
    "service": "svc-001",
    "type": "incident",
    "priority": "P2",
    "action": "created",
    "received_at": "2026-01-03T04:05:07Z",
}
VALUES: list[Any] = [
    None, "", " ", "a", " a", "a ", "x" * 200, "x" * 201, "x" * 4097, "a\x00b", "a\x7fb", "é",
    "a\u200bb", "\uff11", "2026-01-03T0\uff14:05:06Z", 1, 1.5, True, [], {}, {"k": "v"}, "2026-01-03T04:05:06Z",
    "2026-01-03T04:05:06.1234Z", "2026-01-03T24:00:00Z", "2026-02-30T04:05:06Z",
    "2026-01-03t04:05:06Z", "2026-01-03T04:05:06+01:00", "0999-01-03T04:05:06Z",
    "2026-01-03T04:05:60Z", "2026-01-03 04:05:06Z", "2026-01-03T04:05:06.123z", "change",
    "problem", "P1", "P5", "resolved", "closed", "successful", "failed", "x" * 101,
]  # fmt: skip
FIELDS = [*TicketEvent.model_fields, "extra"]


def _model(raw: bytes) -> object:
    try:
        return ticket_view(TicketEvent.model_validate_json(raw))
    except ValueError:  # pydantic's ValidationError is one
        return "refused"


def _variants() -> list[dict[str, Any]]:
    rng = random.Random(3)
    out = []
    for name in FIELDS:
        for value in [*VALUES, "absent"]:
            out.append({k: v for k, v in {**BASE, name: value}.items() if v != "absent"})
    for _ in range(3000):
        event = dict(BASE)
        for name in rng.sample(FIELDS, rng.randrange(1, 4)):
            event[name] = rng.choice([*VALUES, "absent"])
        out.append({k: v for k, v in event.items() if v != "absent"})
    return out


def test_the_lean_path_takes_only_what_the_model_takes_and_as_it_does() -> None:
    taken = 0
    for event in _variants():
        raw = orjson.dumps(event)
        lean = _lean(raw)
        if lean is not None:
            taken += 1
            assert lean == _model(raw), event
        assert (_model(raw) == "refused") == _refused(raw), event
    assert taken > 500  # the plain shapes do take the lean path


_VALUES = st.one_of(
    st.sampled_from(VALUES),
    st.text(max_size=6),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), st.one_of(_VALUES, st.just("absent")), max_size=5))
def test_any_event_takes_the_lean_path_only_as_the_model_takes_it(changes: dict[str, Any]) -> None:
    event = {k: v for k, v in {**BASE, **changes}.items() if v != "absent"}
    raw = orjson.dumps(event)
    lean = _lean(raw)
    assert lean is None or lean == _model(raw)
    assert (_model(raw) == "refused") == _refused(raw)


def _refused(raw: bytes) -> bool:
    try:
        decode_ticket(raw)
    except ValueError:
        return True
    return False


@pytest.mark.parametrize("raw", [b"", b"null", b"[]", b"{", b'{"id": "a"}', b"\xff"])
def test_what_is_no_ticket_event_is_refused(raw: bytes) -> None:
    assert _lean(raw) is None
    assert _refused(raw)


def test_instants_read_as_the_strict_parser_reads_them() -> None:
    rng = random.Random(1)
    texts = [format_timestamp_ms(rng.randrange(-(10**13), 2 * 10**13)) for _ in range(3000)]
    texts += [t.replace(".000Z", "Z") for t in texts]
    texts += [v for v in VALUES if isinstance(v, str)] + ["2026-13-01T00:00:00Z", "abc" * 8]
    for text in texts:
        try:
            expected: object = parse_timestamp_ms(text)
        except ValueError as exc:
            expected = str(exc)
        try:
            got: object = instant_ms(text)
        except ValueError as exc:
            got = str(exc)
        assert got == expected, text


MONITORING = {
    "id": "m-0",
    "occurred_at": "2026-01-03T04:05:06.123000Z",
    "source": "api",
    "summary": "disk full",
    "labels": {"region": "eu"},
    "received_at": "2026-01-03T04:05:07.000001Z",
    "service": "svc-001",
    "check": "disk",
    "status": "firing",
    "severity": "major",
}
MONITORING_VALUES: list[Any] = [
    *VALUES, "2026-01-03T04:05:06.123456Z", "2026-01-03T04:05:06.1234567Z", "firing",
    "critical", "info", "bogus", {"a": "x" * 1025}, {"a": "b\x00"}, {" a": "b"},
    {f"k{i}": "v" for i in range(65)}, {"a": 1},
]  # fmt: skip
MONITORING_FIELDS = [*MonitoringEvent.model_fields, "extra"]


def _monitoring_model(raw: bytes) -> object:
    try:
        return MonitoringEvent.model_validate_json(raw).service
    except ValueError:
        return "refused"


def test_a_monitoring_event_takes_the_lean_path_only_as_the_model_takes_it() -> None:
    rng = random.Random(5)
    events = [
        {k: v for k, v in {**MONITORING, name: value}.items() if v != "absent"}
        for name in MONITORING_FIELDS
        for value in [*MONITORING_VALUES, "absent"]
    ]
    for _ in range(3000):
        event = dict(MONITORING)
        for name in rng.sample(MONITORING_FIELDS, rng.randrange(1, 4)):
            event[name] = rng.choice([*MONITORING_VALUES, "absent"])
        events.append({k: v for k, v in event.items() if v != "absent"})
    taken = 0
    for event in events:
        raw = orjson.dumps(event)
        lean, model = _lean_service(raw), _monitoring_model(raw)
        if lean is not None:
            taken += 1
            assert lean == model, event
        try:
            got: object = monitoring_service(raw)
        except ValueError:
            got = "refused"
        assert got == model, event
    assert taken > 500


@settings(max_examples=600, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(MONITORING_FIELDS), st.one_of(_VALUES, st.just("absent")), max_size=5
    )
)
def test_any_monitoring_event_takes_the_lean_path_only_as_the_model_takes_it(
    changes: dict[str, Any],
) -> None:
    raw = orjson.dumps({k: v for k, v in {**MONITORING, **changes}.items() if v != "absent"})
    lean = _lean_service(raw)
    assert lean is None or lean == _monitoring_model(raw)


def test_the_ingests_own_records_take_the_lean_path() -> None:
    event = MonitoringEvent.model_validate_json(orjson.dumps({**MONITORING, "received_at": None}))
    event.__dict__["received_at"] = datetime.now(UTC)  # as the ingest sets it
    raw = type(event).__pydantic_serializer__.to_json(event)
    assert _lean_service(raw) == "svc-001"
