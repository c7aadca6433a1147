"""Turn validated events into Kafka records and write them, acknowledged by the broker."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from ingest.parsing import Event
from pacta.events import (
    MONITORING_TOPIC,
    MONITORING_TYPE,
    TICKET_TYPE,
    TICKETS_TOPIC,
    MonitoringEvent,
    cloudevent_headers,
    topic_name,
)
from pacta.kafka import send_all


def to_record(event: Event, prefix: str) -> tuple[str, bytes, bytes, list[tuple[str, bytes]]]:
    """One event as (topic, key, value, headers), keyed so related events stay in order."""
    assert event.id is not None
    if isinstance(event, MonitoringEvent):
        topic, ce_type = topic_name(prefix, MONITORING_TOPIC), MONITORING_TYPE
    else:
        topic, ce_type = topic_name(prefix, TICKETS_TOPIC), TICKET_TYPE
    key = event.key
    headers = cloudevent_headers(
        event_id=event.id,
        ce_type=ce_type,
        source=f"/pacta/ingest/{event.source}",
        time=event.occurred_at,
        key=key,
    )
    return topic, key.encode(), event.model_dump_json().encode(), headers


async def publish(
    producer: AIOKafkaProducer, events: Sequence[Event], *, prefix: str, timeout: float
) -> None:
    await send_all(producer, [to_record(e, prefix) for e in events], timeout)
