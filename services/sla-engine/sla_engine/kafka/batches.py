"""How the outbox relay hands its records to Kafka, and the bundles that carry many records in
one outbox row. Records go as one record batch per partition (aiokafka's `create_batch` /
`send_batch`) with one future per batch, rather than a `send()`, a future and an accumulator
lookup per record, which was half of the relay's time in a backfill (two records per ticket
event). Partitions are chosen as aiokafka's default partitioner chooses them (murmur2 of the
key), so the consumers' key ownership agrees with a plain `send()`.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from pacta.events import SPEC_VERSION
from pacta.kafka import PRODUCE_ERRORS, PRODUCE_SECONDS, KeyPartitions

_SPEC = SPEC_VERSION.encode()
_SOURCE = b"/pacta/sla-engine"
_JSON = b"application/json"

OutboxRecord = tuple[str, str, str, str, str, bytes | None]
"""(topic, key, record id, CloudEvents type, CloudEvents time, value; None: a tombstone)."""


class BatchSender:
    """Sends outbox records in their order (per partition, which is all Kafka keeps)."""

    def __init__(self) -> None:
        self._keys = KeyPartitions()
        self._types: dict[str, bytes] = {}

    async def send(
        self, producer: AIOKafkaProducer, records: Sequence[OutboxRecord], timeout: float
    ) -> None:
        """Send every record and wait for the broker's acknowledgement of all (acks=all), or
        raise; with idempotence on a send never times out by itself, so the deadline is ours."""
        started = time.perf_counter()
        topics = {r[0] for r in records}
        try:
            async with asyncio.timeout(timeout):
                batches: dict[tuple[str, int], Any] = {}
                futures: list[asyncio.Future[Any]] = []
                for topic, key, rid, ce_type, ce_time, value in records:
                    tp = (topic, await self._keys.of(producer, topic, key.encode()))
                    encoded = key.encode()
                    headers = [
                        ("ce_specversion", _SPEC),
                        ("ce_id", rid.encode()),
                        ("ce_type", self._type(ce_type)),
                        ("ce_source", _SOURCE),
                        ("ce_time", ce_time.encode()),
                        ("ce_partitionkey", encoded),
                        ("content-type", _JSON),
                    ]
                    batch = batches.get(tp)
                    if (
                        batch is None
                        or batch.append(key=encoded, value=value, timestamp=None, headers=headers)
                        is None
                    ):
                        if batch is not None:  # full: it goes now, a new one takes the record
                            futures.append(await producer.send_batch(batch, tp[0], partition=tp[1]))
                        batch = batches[tp] = producer.create_batch()
                        if (
                            batch.append(key=encoded, value=value, timestamp=None, headers=headers)
                            is None
                        ):
                            raise ValueError(f"outbox record {rid} is larger than a batch")
                for tp, batch in batches.items():
                    futures.append(await producer.send_batch(batch, tp[0], partition=tp[1]))
                await asyncio.gather(*futures)
        except BaseException:
            for topic in topics:
                PRODUCE_ERRORS.labels(topic).inc()
            raise
        elapsed = time.perf_counter() - started
        for topic in topics:
            PRODUCE_SECONDS.labels(topic).observe(elapsed)

    def _type(self, ce_type: str) -> bytes:
        encoded = self._types.get(ce_type)
        if encoded is None:
            encoded = self._types[ce_type] = ce_type.encode()
        return encoded


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
        out.append((fields[0], fields[1], fields[2], fields[3], fields[4], value))
    return out
