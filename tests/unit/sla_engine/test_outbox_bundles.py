"""Outbox bundles give back exactly the records packed into them, in order, tombstones too."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sla_engine.kafka.records import OutboxRecord, pack, unpack

TEXT = st.text(max_size=300)
RECORD = st.builds(OutboxRecord, TEXT, TEXT, TEXT, TEXT, TEXT, st.none() | st.binary(max_size=2000))


@given(st.lists(RECORD, max_size=50))
def test_a_bundle_unpacks_to_its_records(records: list[OutboxRecord]) -> None:
    assert unpack(pack(records)) == records


def test_a_bundle_keeps_unicode_and_empty_values() -> None:
    records = [
        OutboxRecord(
            "pacta.signals",
            "svc-é",
            "T-1/response/breach/1",
            "pacta.signal",
            "2026-12-01T10:00:00Z",
            b"{}",
        ),
        OutboxRecord("pacta.sla.calendars", "24x7", "calendar:24x7", "pacta.calendar", "", None),
        OutboxRecord("t", "", "", "", "", b""),
    ]
    assert unpack(pack(records)) == records
