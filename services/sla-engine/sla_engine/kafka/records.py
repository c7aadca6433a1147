"""The outbox record: what the engine hands Kafka, as it waits in the outbox and as the relay
sends it (`kafka_record`, through `pacta.kafka.BatchProducer`); and the bundles that carry many
records in one outbox row."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from pacta.events import SPEC_VERSION
from pacta.kafka import ProducerRecord

_SPEC = SPEC_VERSION.encode()
_SOURCE = b"/pacta/sla-engine"
_JSON = b"application/json"


class OutboxRecord(NamedTuple):
    """One record of the outbox: its topic and key, its id (`ce_id`), CloudEvents type and time,
    and its value, the body's JSON (None: a tombstone, which deletes the key)."""

    topic: str
    key: str
    record_id: str
    ce_type: str
    ce_time: str
    value: bytes | None


def json_value(body: Any) -> bytes:
    """`orjson.dumps(body)`, in a bytes object of its own size: the value of a record that waits
    for its batch's insert. orjson's own result, kept, cost the engine two page faults each
    (5 us for a 120-byte body, measured; copied and dropped at once, 0.5 us): a backfill
    keeps two such values per event until the batch is written."""
    return memoryview(orjson.dumps(body)).tobytes()


def kafka_record(record: OutboxRecord) -> ProducerRecord:
    """The record on Kafka: its value under the CloudEvents Kafka binary binding."""
    topic, key_text, record_id, ce_type, ce_time, value = record
    key, key_header = _key(key_text)
    headers = [
        _SPEC_HEADER,
        ("ce_id", record_id.encode()),
        _type_header(ce_type),
        _SOURCE_HEADER,
        ("ce_time", ce_time.encode()),
        key_header,
        _CONTENT_HEADER,
    ]
    # a relay round builds thousands: tuple.__new__ skips the named tuple's Python __new__
    return _new(ProducerRecord, (topic, key, value, headers))


_new = tuple.__new__
_SPEC_HEADER = ("ce_specversion", _SPEC)
_SOURCE_HEADER = ("ce_source", _SOURCE)
_CONTENT_HEADER = ("content-type", _JSON)


@lru_cache(maxsize=4096)
def _key(text: str) -> tuple[bytes, tuple[str, bytes]]:
    """A key (a service) repeats: encoded once, with its `ce_partitionkey` header."""
    key = text.encode()
    return key, ("ce_partitionkey", key)


@lru_cache(maxsize=64)
def _type_header(ce_type: str) -> tuple[str, bytes]:
    return ("ce_type", ce_type.encode())


# ---- bundles: many records in one outbox row ---------------------------------------------------
# A backfill's batch writes ~18,000 records (its signals and clock facts); as rows they cost
# PostgreSQL a quarter of a second to insert, read and delete again, as bundles of
# BUNDLE_RECORDS a tenth of that. A bundle row has ce_type BUNDLE_TYPE, its record count as
# its key, and its records packed one after the other: a header of six lengths (0xFFFFFFFF for
# a tombstone's missing value), then topic, key, id, type, time and value.

BUNDLE_TYPE = "pacta.outbox.bundle"
BUNDLE_RECORDS = 1000
_HEAD = struct.Struct(">HHHHHI")
_NO_VALUE = 0xFFFFFFFF


def pack(records: Sequence[OutboxRecord]) -> bytes:
    parts: list[bytes] = []
    head = _HEAD.pack
    for topic, key, rid, ce_type, ce_time, value in records:
        t, k, i, y, m = (
            topic.encode(),
            key.encode(),
            rid.encode(),
            ce_type.encode(),
            ce_time.encode(),
        )
        size = _NO_VALUE if value is None else len(value)
        parts += (head(len(t), len(k), len(i), len(y), len(m), size), t, k, i, y, m)
        if value is not None:
            parts.append(value)
    return b"".join(parts)


def unpack(data: bytes) -> list[OutboxRecord]:
    out: list[OutboxRecord] = []
    view, at, head = memoryview(data), 0, _HEAD.size
    while at < len(data):
        sizes = _HEAD.unpack_from(data, at)
        at += head
        fields = []
        for size in sizes[:5]:
            fields.append(str(view[at : at + size], "utf-8"))
            at += size
        value: bytes | None = None
        if sizes[5] != _NO_VALUE:
            value = bytes(view[at : at + sizes[5]])
            at += sizes[5]
        out.append(OutboxRecord(fields[0], fields[1], fields[2], fields[3], fields[4], value))
    return out
