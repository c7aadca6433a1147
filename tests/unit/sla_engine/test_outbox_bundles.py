"""Outbox bundles give back exactly the records packed into them, in order, tombstones too;
a record goes to Kafka with its CloudEvents headers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sla_engine.kafka.records import OutboxRecord, kafka_record, pack, unpack

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


def test_a_record_goes_to_kafka_under_the_cloudevents_binary_binding() -> None:
    record = OutboxRecord("p.signals", "svc-é", "T-1/x", "io.pacta.signal", "2026-12-01Z", b"{}")
    sent = kafka_record(record)
    assert (sent.topic, sent.key, sent.value) == ("p.signals", "svc-é".encode(), b"{}")
    assert sent.headers == [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"T-1/x"),
        ("ce_type", b"io.pacta.signal"),
        ("ce_source", b"/pacta/sla-engine"),
        ("ce_time", b"2026-12-01Z"),
        ("ce_partitionkey", "svc-é".encode()),
        ("content-type", b"application/json"),
    ]
    assert kafka_record(record._replace(value=None)).value is None  # a tombstone
