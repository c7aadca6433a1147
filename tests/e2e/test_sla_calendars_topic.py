"""End to end: the engine publishes every calendar on the compacted calendars topic (built in
at start-up, API ones on PUT) keyed by name, and a tombstone on DELETE."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from pacta.events import CALENDARS_TOPIC, CalendarRecord, header, topic_name
from pacta.settings import CommonSettings
from tests.support.processes import ServiceProcess
from tests.support.sla_api import call, put

pytestmark = pytest.mark.e2e


async def read_until(
    settings: CommonSettings, what: str, done: Any, timeout: float = 15.0
) -> list[tuple[str, bytes | None, dict[str, str | None]]]:
    """(key, value, headers) of every record on the topic, read from the start until `done`."""
    consumer = AIOKafkaConsumer(
        topic_name(settings.topic_prefix, CALENDARS_TOPIC),
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: list[tuple[str, bytes | None, dict[str, str | None]]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for r in records:
                    meta = {n: header(r.headers, n) for n in ("ce_type", "ce_id")}
                    seen.append((r.key.decode(), r.value, meta))
            if done(seen):
                return seen
            await asyncio.sleep(0.02)
    finally:
        await consumer.stop()
    raise AssertionError(f"the calendars topic never showed {what}; saw {[s[0] for s in seen]}")


async def test_calendars_topic_holds_each_calendar_and_a_tombstone_after_delete(
    stack: dict[str, ServiceProcess], settings: CommonSettings
) -> None:
    engine = stack["sla_engine"].url
    name = f"office-{uuid.uuid4().hex[:8]}"
    put(
        engine,
        "calendars",
        name,
        {
            "timezone": "Europe/Berlin",
            "hours": {"mon": ["09:00-17:00"]},
            "holidays": ["2026-12-25"],
        },
    )

    def latest(seen: list[Any], key: str) -> Any:
        values = [s for s in seen if s[0] == key]
        return values[-1] if values else None

    seen = await read_until(settings, f"{name}", lambda s: latest(s, name) is not None)
    _key, value, meta = latest(seen, name)
    record = CalendarRecord.model_validate(orjson.loads(value))
    assert record.name == name
    assert record.timezone == "Europe/Berlin"
    assert record.hours["mon"] == ["09:00-17:00"]
    assert record.holidays == ["2026-12-25"]
    assert record.updated_at is not None
    assert meta["ce_type"] == "io.pacta.calendar"
    builtin = latest(seen, "24x7")  # published at start-up
    assert builtin is not None
    assert CalendarRecord.model_validate(orjson.loads(builtin[1])).hours["sun"] == ["00:00-24:00"]

    assert call("DELETE", f"{engine}/v1/calendars/{name}").status_code == 204
    seen = await read_until(
        settings, f"a tombstone for {name}", lambda s: (latest(s, name) or (0, b""))[1] is None
    )
    assert latest(seen, name)[1] is None
