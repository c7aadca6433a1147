"""Tables and queries of the availability half: check journals, down intervals, the windows a
`maintenance` check opens, and the version counter of availability facts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.durations import datetime_to_ms, ms_to_datetime
from sla_engine.domain.availability import OpenInterval
from sla_engine.domain.availability_record import Recorded, base_id
from sla_engine.domain.coverage import Monitoring
from sla_engine.domain.downtime import CheckEvent, DownInterval
from sla_engine.resources.registry import add_window


async def check_journal(conn: AsyncConnection, *, service: str, check: str) -> list[CheckEvent]:
    """Every journaled event of one (service, check), in event time."""
    result = await conn.execute(
        sa.text(
            "SELECT event_id, occurred_at, body->>'status', coalesce(body->>'severity', 'critical'), "
            "coalesce(body->'labels', '{}'::jsonb) "
            "FROM sla_engine.monitoring_events WHERE service = :service AND check_name = :check "
            "ORDER BY occurred_at, event_id"
        ),
        {"service": service, "check": check},
    )
    return [
        CheckEvent(datetime_to_ms(at), status, severity, eid, labels or {})
        for eid, at, status, severity, labels in result
    ]


async def seen_until(
    conn: AsyncConnection, *, service: str, check: str, besides: list[str]
) -> int | None:
    """The latest instant among the check's journaled events other than `besides`."""
    result = await conn.execute(
        sa.text(
            "SELECT max(occurred_at) FROM sla_engine.monitoring_events "
            "WHERE service = :service AND check_name = :check AND NOT (event_id = ANY(:ids))"
        ),
        {"service": service, "check": check, "ids": besides},
    )
    latest = result.scalar_one_or_none()
    return None if latest is None else datetime_to_ms(latest)


async def last_interval(conn: AsyncConnection, *, service: str, check: str) -> DownInterval | None:
    result = await conn.execute(
        sa.text(
            "SELECT started_at, ended_at, severity, labels FROM sla_engine.down_intervals "
            "WHERE service = :service AND check_name = :check ORDER BY started_at DESC LIMIT 1"
        ),
        {"service": service, "check": check},
    )
    row = result.first()
    if row is None:
        return None
    start, end, severity, labels = row
    end_ms = None if end is None else datetime_to_ms(end)
    return DownInterval(check, datetime_to_ms(start), end_ms, severity, "", labels or {})


async def replace_check_intervals(
    conn: AsyncConnection,
    *,
    service: str,
    check: str,
    intervals: list[DownInterval],
    from_ms: int | None = None,
) -> None:
    """Replace the check's intervals (those starting at or after `from_ms`, if given)."""
    await conn.execute(
        sa.text(
            "DELETE FROM sla_engine.down_intervals WHERE service = :service AND check_name = :check"
            + ("" if from_ms is None else " AND started_at >= :from")
        ),
        {"service": service, "check": check}
        | ({} if from_ms is None else {"from": ms_to_datetime(from_ms)}),
    )
    if intervals:
        await conn.execute(
            sa.text(
                "INSERT INTO sla_engine.down_intervals "
                "(service, check_name, started_at, ended_at, severity, labels) "
                "VALUES (:service, :check, :started_at, :ended_at, :severity, "
                "CAST(:labels AS jsonb))"
            ),
            [
                {
                    "service": service,
                    "check": check,
                    "started_at": ms_to_datetime(iv.start_ms),
                    "ended_at": None if iv.end_ms is None else ms_to_datetime(iv.end_ms),
                    "severity": iv.severity,
                    "labels": orjson.dumps(dict(iv.labels)).decode(),
                }
                for iv in intervals
            ],
        )


async def service_intervals(
    conn: AsyncConnection, *, service: str, after_ms: int
) -> list[DownInterval]:
    """The service's check intervals still going on at or after `after_ms`."""
    result = await conn.execute(
        sa.text(
            "SELECT check_name, started_at, ended_at, severity, labels "
            "FROM sla_engine.down_intervals "
            "WHERE service = :service AND (ended_at IS NULL OR ended_at >= :after) "
            "ORDER BY started_at"
        ),
        {"service": service, "after": ms_to_datetime(after_ms)},
    )
    return [
        DownInterval(
            check,
            datetime_to_ms(s),
            None if e is None else datetime_to_ms(e),
            severity,
            "",
            labels or {},
        )
        for check, s, e, severity, labels in result
    ]


async def service_windows(
    conn: AsyncConnection, *, service: str, after_ms: int
) -> list[OpenInterval]:
    """The service's maintenance windows still going on at or after `after_ms`."""
    result = await conn.execute(
        sa.text(
            "SELECT starts_at, ends_at FROM sla_engine.maintenance_windows "
            "WHERE service = :service AND (ends_at IS NULL OR ends_at >= :after) "
            "ORDER BY starts_at"
        ),
        {"service": service, "after": ms_to_datetime(after_ms)},
    )
    return [(datetime_to_ms(s), None if e is None else datetime_to_ms(e)) for s, e in result]


async def sync_event_windows(
    conn: AsyncConnection, *, service: str, intervals: list[DownInterval], reasons: dict[str, str]
) -> None:
    """Make the windows a `maintenance` check opened match its re-derived intervals: one window
    per firing that opened one, named after that event, so replays change nothing."""
    ids = [f"event-{iv.opened_by}" for iv in intervals]
    await conn.execute(
        sa.text(
            "DELETE FROM sla_engine.maintenance_windows "
            "WHERE service = :service AND origin = 'event' AND NOT (id = ANY(:ids))"
        ),
        {"service": service, "ids": ids},
    )
    for window_id, iv in zip(ids, intervals, strict=True):
        await add_window(
            conn,
            window_id=window_id,
            service=service,
            starts_at=ms_to_datetime(iv.start_ms),
            ends_at=None if iv.end_ms is None else ms_to_datetime(iv.end_ms),
            reason=reasons.get(iv.opened_by) or "maintenance check",
            origin="event",
        )


async def event_summaries(conn: AsyncConnection, *, event_ids: list[str]) -> dict[str, str]:
    result = await conn.execute(
        sa.text(
            "SELECT event_id, body->>'summary' FROM sla_engine.monitoring_events "
            "WHERE event_id = ANY(:ids) AND body->>'summary' IS NOT NULL"
        ),
        {"ids": event_ids},
    )
    return {eid: summary for eid, summary in result}


async def recorded_signals(conn: AsyncConnection, *, service: str, after_ms: int) -> list[Recorded]:
    """The service's availability signals (retractions aside) with instants at or after
    `after_ms`, retracted ones included."""
    result = await conn.execute(
        sa.text(
            "SELECT signal_id, kind, retracted FROM sla_engine.signals "
            "WHERE service = :service AND metric = 'availability' AND kind <> 'retracted' "
            "AND occurred_at >= :after"
        ),
        {"service": service, "after": ms_to_datetime(after_ms)},
    )
    return [
        Recorded(signal_id, kind, _month_of_id(signal_id), bool(retracted))
        for signal_id, kind, retracted in result
    ]


def _month_of_id(signal_id: str) -> str:
    # budget signals are `<service>/availability/<YYYY-MM>/<kind>/<fraction>`: read from the
    # right, since a service name may hold slashes (the others need no month here)
    parts = base_id(signal_id).split("/")
    return parts[-3] if len(parts) >= 5 else ""


async def signal_bodies(conn: AsyncConnection, *, signal_ids: list[str]) -> dict[str, Any]:
    result = await conn.execute(
        sa.text("SELECT signal_id, body FROM sla_engine.signals WHERE signal_id = ANY(:ids)"),
        {"ids": signal_ids},
    )
    return {signal_id: body for signal_id, body in result}


async def services_down_after(conn: AsyncConnection, *, after_ms: int) -> set[str]:
    """Services with a check down at some instant at or after `after_ms`."""
    result = await conn.execute(
        sa.text(
            "SELECT DISTINCT service FROM sla_engine.down_intervals "
            "WHERE ended_at IS NULL OR ended_at >= :after"
        ),
        {"after": ms_to_datetime(after_ms)},
    )
    return {r[0] for r in result}


async def open_outage_starts(conn: AsyncConnection) -> dict[str, int]:
    """Services with a check still firing, and the earliest start among those (restart)."""
    result = await conn.execute(
        sa.text(
            "SELECT service, min(started_at) FROM sla_engine.down_intervals "
            "WHERE ended_at IS NULL GROUP BY service"
        )
    )
    return {service: datetime_to_ms(started) for service, started in result}


async def next_fact_version(
    conn: AsyncConnection, *, service: str, month: str, body: dict[str, Any]
) -> int:
    """Bump and return the version of a service-month's availability fact (row-locked, so
    concurrent writers get distinct versions)."""
    result = await conn.execute(
        sa.text(
            "INSERT INTO sla_engine.availability_facts (service, month, version, body) "
            "VALUES (:service, :month, 1, CAST(:body AS jsonb)) "
            "ON CONFLICT (service, month) DO UPDATE SET "
            "version = sla_engine.availability_facts.version + 1, body = EXCLUDED.body, "
            "updated_at = now() RETURNING version"
        ),
        {"service": service, "month": month, "body": orjson.dumps(body).decode()},
    )
    return int(result.scalar_one())


async def monitoring_of(
    conn: AsyncConnection, *, service: str, after_ms: int, max_silence_ms: int | None
) -> Monitoring:
    """When the service's monitoring spoke: its first event of any check, ever, and (with a
    `max_silence_ms`) its silences from `after_ms` on, found in the journal in one pass (the
    event before `after_ms` included, so a silence spanning it is whole)."""
    first = (
        await conn.execute(
            sa.text("SELECT min(occurred_at) FROM sla_engine.monitoring_events WHERE service = :s"),
            {"s": service},
        )
    ).scalar_one_or_none()
    if first is None or max_silence_ms is None:
        return Monitoring(None if first is None else datetime_to_ms(first))
    gap = timedelta(milliseconds=max_silence_ms)
    result = await conn.execute(
        sa.text(
            "WITH e AS (SELECT occurred_at AS at, lag(occurred_at) OVER (ORDER BY occurred_at) "
            "AS prev, lead(occurred_at) OVER (ORDER BY occurred_at) AS next "
            "FROM sla_engine.monitoring_events WHERE service = :s AND occurred_at >= coalesce("
            "(SELECT max(occurred_at) FROM sla_engine.monitoring_events "
            "WHERE service = :s AND occurred_at < :after), :after)) "
            "SELECT prev, at FROM e WHERE prev IS NOT NULL AND at - prev > :gap "
            "UNION ALL SELECT at, NULL FROM e WHERE next IS NULL ORDER BY 1"
        ),
        {"s": service, "after": ms_to_datetime(after_ms), "gap": gap},
    )
    found: list[OpenInterval] = [
        (datetime_to_ms(a) + max_silence_ms, None if b is None else datetime_to_ms(b))
        for a, b in result
    ]
    return Monitoring(datetime_to_ms(first), tuple(found))
