"""Turn validated events into Kafka records and write them, acknowledged by the broker.

A cycle's records are appended to one batch per partition (aiokafka's `create_batch` /
`send_batch`), with one future per partition rather than one `send()` and one future per
record, which was the largest per-event cost of a batched request. Partitions are chosen as
aiokafka's default partitioner does (murmur2 of the key), so the other producers of these
topics and the consumers' key ownership agree with ours.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from ingest.parsing import Event
from pacta.events import (
    MONITORING_TOPIC,
    MONITORING_TYPE,
    SPEC_VERSION,
    TICKET_TYPE,
    TICKETS_TOPIC,
    MonitoringEvent,
    TicketEvent,
    topic_name,
)
from pacta.kafka import PRODUCE_ERRORS, PRODUCE_SECONDS, KeyPartitions

_SPEC = SPEC_VERSION.encode()
_JSON = b"application/json"


class Publisher:
    """Writes events of both kinds to their topics under one topic prefix."""

    def __init__(self, prefix: str) -> None:
        self.kinds: dict[type[Event], tuple[str, bytes]] = {
            MonitoringEvent: (topic_name(prefix, MONITORING_TOPIC), MONITORING_TYPE.encode()),
            TicketEvent: (topic_name(prefix, TICKETS_TOPIC), TICKET_TYPE.encode()),
        }
        self._keys = KeyPartitions()
        self._sources: dict[str, bytes] = {}
        # One batch per partition waits to be queued at a time: aiokafka's add_batch shrinks
        # its own timeout on every retry, so concurrent cycles contending for one partition
        # could fail with KafkaTimeoutError well inside our deadline (seen on a loaded box).
        self._queueing: dict[tuple[str, int], asyncio.Lock] = {}

    async def publish(
        self, producer: AIOKafkaProducer, events: Sequence[Event], *, timeout: float
    ) -> None:
        """Send every event and wait until the broker acknowledged all (acks=all), or raise."""
        started = time.perf_counter()
        topics: set[str] = set()
        try:
            async with asyncio.timeout(timeout):
                batches: dict[tuple[str, int], Any] = {}
                futures: list[asyncio.Future[Any]] = []
                for event in events:
                    topic, ce_type = self.kinds[type(event)]
                    topics.add(topic)
                    key = event.key.encode()
                    tp = (topic, await self._keys.of(producer, topic, key))
                    value: bytes = type(event).__pydantic_serializer__.to_json(event)
                    record: dict[str, Any] = {
                        "key": key,
                        "value": value,
                        "timestamp": None,
                        "headers": self.headers(event, ce_type, key),
                    }
                    batch = batches.get(tp)
                    if batch is None or batch.append(**record) is None:
                        if batch is not None:  # full: it goes now, a new one takes the record
                            futures.append(await self._queue(producer, batch, tp))
                        batch = batches[tp] = producer.create_batch()
                        if batch.append(**record) is None:
                            # never silently: an event's fields are bounded far below a batch
                            raise ValueError(f"a record of {len(value)} bytes is too big")
                for tp, batch in batches.items():
                    futures.append(await self._queue(producer, batch, tp))
                await asyncio.gather(*futures)
        except BaseException:
            for topic in topics:
                PRODUCE_ERRORS.labels(topic).inc()
            raise
        elapsed = time.perf_counter() - started
        for topic in topics:
            PRODUCE_SECONDS.labels(topic).observe(elapsed)

    async def _queue(
        self, producer: AIOKafkaProducer, batch: Any, tp: tuple[str, int]
    ) -> asyncio.Future[Any]:
        lock = self._queueing.get(tp)
        if lock is None:
            lock = self._queueing[tp] = asyncio.Lock()
        async with lock:
            future: asyncio.Future[Any] = await producer.send_batch(batch, tp[0], partition=tp[1])
            return future

    def headers(self, event: Event, ce_type: bytes, key: bytes) -> list[tuple[str, bytes]]:
        """The CloudEvents Kafka binary binding (`ce_` headers); constants built once."""
        assert event.id is not None
        source = self._sources.get(event.source)
        if source is None:
            if len(self._sources) >= 1000:
                self._sources.clear()
            source = self._sources[event.source] = f"/pacta/ingest/{event.source}".encode()
        return [
            ("ce_specversion", _SPEC),
            ("ce_id", event.id.encode()),
            ("ce_type", ce_type),
            ("ce_source", source),
            ("ce_time", event.occurred_at.isoformat().encode()),
            ("ce_partitionkey", key),
            ("content-type", _JSON),
        ]
