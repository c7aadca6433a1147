"""The calendars topic: every calendar the engine knows (built in, config as code, API) as a
`CalendarRecord` on the compacted `sla.calendars` topic, keyed by name, a tombstone when one is
deleted; written through the outbox in the transaction that changed it, so other services
(alerting's time intervals, reporting's agreed service time) hold exactly the engine's copy."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.calendars import BUILTIN_CALENDARS, Calendar
from pacta.events import CALENDARS_TOPIC, CalendarRecord, topic_name
from sla_engine import outbox
from sla_engine.domain.policies import CalendarSpec
from sla_engine.resources import Registry


def calendar_record(name: str, calendar: Calendar, updated_at: datetime) -> dict[str, object]:
    spec = CalendarSpec.from_calendar(calendar).model_dump(mode="json")
    record = CalendarRecord.model_validate({**spec, "name": name, "updated_at": updated_at})
    return record.model_dump(mode="json")


async def publish(conn: AsyncConnection, prefix: str, name: str, calendar: Calendar | None) -> None:
    """One calendar's record (None: its tombstone), in the caller's transaction."""
    now = datetime.now(UTC)
    body = None if calendar is None else calendar_record(name, calendar, now)
    record_id = f"calendar:{name}:{now.isoformat()}"
    await outbox.enqueue_many(conn, [(topic_name(prefix, CALENDARS_TOPIC), name, record_id, body)])


async def publish_all(conn: AsyncConnection, prefix: str, registry: Registry) -> int:
    """Every calendar, at start-up: the topic then holds what this engine serves even if a
    record was lost or the topic was recreated (compaction keeps the latest per name)."""
    now = datetime.now(UTC)
    topic = topic_name(prefix, CALENDARS_TOPIC)
    calendars = {**registry.calendars, **BUILTIN_CALENDARS}
    records: list[tuple[str, str, str, dict[str, object] | None]] = [
        (topic, name, f"calendar:{name}:{now.isoformat()}", calendar_record(name, cal, now))
        for name, cal in sorted(calendars.items())
    ]
    await outbox.enqueue_many(conn, records)
    return len(records)
