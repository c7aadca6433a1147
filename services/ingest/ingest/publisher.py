"""Turn validated events into Kafka records (the model's JSON, CloudEvents headers, the key)
and write them through `pacta.kafka.BatchProducer`, acknowledged by the broker."""

from __future__ import annotations

from collections.abc import Sequence

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
from pacta.kafka import BatchProducer, ProducerRecord

_SPEC = SPEC_VERSION.encode()
_JSON = b"application/json"


class Publisher:
    """Writes events of both kinds to their topics under one topic prefix."""

    def __init__(self, prefix: str) -> None:
        self.kinds: dict[type[Event], tuple[str, bytes]] = {
            MonitoringEvent: (topic_name(prefix, MONITORING_TOPIC), MONITORING_TYPE.encode()),
            TicketEvent: (topic_name(prefix, TICKETS_TOPIC), TICKET_TYPE.encode()),
        }
        self._producer = BatchProducer()
        self._sources: dict[str, bytes] = {}

    async def publish(
        self, producer: AIOKafkaProducer, events: Sequence[Event], *, timeout: float
    ) -> None:
        """Send every event and wait until the broker acknowledged all (acks=all), or raise."""
        records: list[ProducerRecord] = []
        for event in events:
            topic, ce_type = self.kinds[type(event)]
            key = event.key.encode()
            value: bytes = type(event).__pydantic_serializer__.to_json(event)
            records.append(ProducerRecord(topic, key, value, self.headers(event, ce_type, key)))
        await self._producer.send(producer, records, timeout=timeout)

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
