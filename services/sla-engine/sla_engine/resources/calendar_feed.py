"""The resource topics: every calendar the engine knows (built in, config as code, API) as a
`CalendarRecord` on the compacted `sla.calendars` topic (a tombstone when one is deleted), and
every policy's history as a `PolicyRecord` on `sla.policies`; written through the outbox in the
transaction that changed them, so other services hold exactly the engine's copy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.calendars import BUILTIN_CALENDARS, Calendar
from pacta.events import CALENDARS_TOPIC, POLICIES_TOPIC, CalendarRecord, PolicyRecord, topic_name
from sla_engine.domain.policies import CalendarSpec
from sla_engine.kafka.outbox import enqueue_many
from sla_engine.resources.registry import Registry, versions_of

Record = tuple[str, str, str, dict[str, object] | None]


def _versions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "version": r["version"],
            "effective_from": r["effective_from"],
            "recorded_at": r["recorded_at"],
            "spec": r.get("spec", r.get("body")),
        }
        for r in rows
    ]


def calendar_record(
    name: str,
    calendar: Calendar,
    updated_at: datetime,
    versions: list[dict[str, Any]] | None = None,
) -> dict[str, object]:
    versions = versions or []
    spec = CalendarSpec.from_calendar(calendar).model_dump(mode="json")
    record = CalendarRecord.model_validate(
        {
            **spec,
            "name": name,
            "updated_at": updated_at,
            "version": versions[-1]["version"] if versions else 1,
            "versions": _versions(versions),
        }
    )
    return record.model_dump(mode="json")


def policy_record(name: str, versions: list[dict[str, Any]]) -> dict[str, object]:
    record = PolicyRecord.model_validate({"name": name, "versions": _versions(versions)})
    return record.model_dump(mode="json")


async def publish(conn: AsyncConnection, prefix: str, name: str, calendar: Calendar | None) -> None:
    """One calendar's record with every version (None: its tombstone), in the caller's
    transaction."""
    now = datetime.now(UTC)
    body = None
    if calendar is not None:
        versions = await versions_of(conn, kind="calendar", name=name)
        body = calendar_record(name, calendar, now, versions)
    record_id = f"calendar:{name}:{now.isoformat()}"
    await enqueue_many(conn, [(topic_name(prefix, CALENDARS_TOPIC), name, record_id, body)])


async def publish_policy(conn: AsyncConnection, prefix: str, name: str) -> None:
    """One policy's record, every version (a deletion included), in the caller's transaction."""
    versions = await versions_of(conn, kind="policy", name=name)
    record: Record = (
        topic_name(prefix, POLICIES_TOPIC),
        name,
        f"policy:{name}:{versions[-1]['version']}",
        policy_record(name, versions),
    )
    await enqueue_many(conn, [record])


async def publish_all(conn: AsyncConnection, prefix: str, registry: Registry) -> int:
    """Every calendar and policy, at start-up: the topics then hold what this engine serves
    even if a record was lost or a topic was recreated (compaction keeps the latest per name)."""
    now = datetime.now(UTC)
    topic = topic_name(prefix, CALENDARS_TOPIC)
    records: list[Record] = [
        (topic, name, f"calendar:{name}:{now.isoformat()}", calendar_record(name, cal, now))
        for name, cal in sorted(BUILTIN_CALENDARS.items())
    ]
    for (kind, name), versions in sorted(registry.records.items()):
        if kind == "calendar" and name in registry.calendars:
            body = calendar_record(name, registry.calendars[name], now, versions)
            records.append((topic, name, f"calendar:{name}:{now.isoformat()}", body))
        elif kind == "policy":
            records.append(
                (
                    topic_name(prefix, POLICIES_TOPIC),
                    name,
                    f"policy:{name}:{versions[-1]['version']}:{now.isoformat()}",
                    policy_record(name, versions),
                )
            )
    await enqueue_many(conn, records)
    return len(records)
