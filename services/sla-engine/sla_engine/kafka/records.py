"""The outbox record: what the engine hands Kafka, as it waits in the outbox and as the relay
sends it (`kafka_record`, through `pacta.kafka.BatchProducer`); and the bundles that carry many
records in one outbox row."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

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


def kafka_record(record: OutboxRecord) -> ProducerRecord:
    """The record on Kafka: its value under the CloudEvents Kafka binary binding."""
    topic, key_text, record_id, ce_type, ce_time, value = record
    key = _encoded(key_text)
    headers = [
        ("ce_specversion", _SPEC),
        ("ce_id", record_id.encode()),
        ("ce_type", _encoded(ce_type)),
        ("ce_source", _SOURCE),
        ("ce_time", ce_time.encode()),
        ("ce_partitionkey", key),
        ("content-type", _JSON),
    ]
    return ProducerRecord(topic, key, value, headers)


@lru_cache(maxsize=4096)
def _encoded(text: str) -> bytes:
    """Types and keys (services) repeat: each encoded once."""
    return text.encode()


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
    for topic, key, rid, ce_type, ce_time, value in records:
        fields = [s.encode() for s in (topic, key, rid, ce_type, ce_time)]
        size = _NO_VALUE if value is None else len(value)
        parts.append(_HEAD.pack(*(len(f) for f in fields), size))
        parts.extend(fields)
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
