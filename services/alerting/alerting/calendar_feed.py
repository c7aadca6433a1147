"""Alerting's own copy of the engine's business calendars: the compacted calendars topic read
from the beginning by every instance (no consumer group: each needs all of them)."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaConsumer

from pacta.calendars import BUILTIN_CALENDARS, Calendar
from pacta.events import CALENDARS_TOPIC, CalendarRecord, topic_name
from pacta.kafka import Record
from pacta.logs import get_logger
from pacta.settings import CommonSettings

log = get_logger(__name__)


def calendar_of(record: CalendarRecord) -> Calendar:
    return Calendar(
        name=record.name,
        timezone=record.timezone,
        hours=record.hours,
        holidays=record.holidays,
        holiday_country=record.holiday_country,
        holiday_subdivision=record.holiday_subdivision,
    )


def apply_record(calendars: dict[str, Calendar], record: Record) -> None:
    """Key = calendar name; a null value (tombstone) deletes it. Built-ins stay."""
    name = (record.key or b"").decode()
    if not name or name in BUILTIN_CALENDARS:
        return
    if record.value is None:
        calendars.pop(name, None)
        return
    try:
        calendars[name] = calendar_of(CalendarRecord.model_validate_json(record.value))
    except ValueError as exc:
        log.error("calendar record left out", calendar=name, error=str(exc))


class CalendarFeed:
    def __init__(self, settings: CommonSettings, calendars: dict[str, Calendar]) -> None:
        self.topic = topic_name(settings.topic_prefix, CALENDARS_TOPIC)
        self.calendars = calendars
        self.consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="alerting-calendars",
        )
        self.caught_up = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.consumer.start()
                break
            except Exception as exc:
                log.warning("calendar feed cannot start; retrying", error=repr(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
        if stop.is_set():
            return
        try:
            await self._follow(stop)
        except Exception as exc:
            log.exception("calendar feed stopped", error=repr(exc))
        finally:
            with contextlib.suppress(Exception):
                await self.consumer.stop()

    async def _follow(self, stop: asyncio.Event) -> None:
        # without a group the consumer takes every partition of the topic itself
        while not self.consumer.assignment() and not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)
        tps = sorted(self.consumer.assignment(), key=lambda tp: tp.partition)
        ends = await self.consumer.end_offsets(tps)
        while not stop.is_set():
            batches = await self.consumer.getmany(timeout_ms=500, max_records=1000)
            for records in batches.values():
                for record in records:
                    apply_record(self.calendars, record)
            if not self.caught_up.is_set():
                positions = {tp: await self.consumer.position(tp) for tp in tps}
                if all(positions[tp] >= ends[tp] for tp in tps):
                    self.caught_up.set()
                    log.info("calendars loaded", calendars=sorted(self.calendars))
