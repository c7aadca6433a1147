"""When a service's monitoring spoke: its first event, ever, and its silences (from the check
journal)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.durations import datetime_to_ms, ms_to_datetime
from sla_engine.domain.availability import OpenInterval
from sla_engine.domain.coverage import Monitoring


async def monitoring_of(
    conn: AsyncConnection, *, service: str, after_ms: int, max_silence_ms: int | None
) -> Monitoring:
    """When the service's monitoring spoke: its first event of any check, ever, and (with a
    `max_silence_ms`) its silences from `after_ms` on, found in the journal in one pass (the
    event before `after_ms` included, so a silence spanning it is whole)."""
    found = await monitoring_many(conn, wanted={service: (after_ms, max_silence_ms)})
    return found[service]


async def monitoring_many(
    conn: AsyncConnection, *, wanted: dict[str, tuple[int, int | None]]
) -> dict[str, Monitoring]:
    """`monitoring_of` several services ({service: (after_ms, max_silence_ms)}): their first
    events in one statement, then the silences of those with a `max_silence_ms`."""
    if not wanted:
        return {}
    result = await conn.execute(
        sa.text(
            "SELECT q.service, (SELECT min(occurred_at) FROM sla_engine.monitoring_events m "
            "WHERE m.service = q.service) FROM unnest(CAST(:services AS text[])) AS q(service)"
        ),
        {"services": list(wanted)},
    )
    firsts = {
        service: None if first is None else datetime_to_ms(first) for service, first in result
    }
    return await monitoring_from(conn, wanted=wanted, firsts=firsts)


async def monitoring_from(
    conn: AsyncConnection,
    *,
    wanted: dict[str, tuple[int, int | None]],
    firsts: dict[str, int | None],
) -> dict[str, Monitoring]:
    """`monitoring_many` with the first events known (`plan_inputs`): a statement for each
    service with a `max_silence_ms` (its silences), none for the others."""
    out: dict[str, Monitoring] = {}
    for service, (after_ms, max_silence_ms) in wanted.items():
        first = firsts.get(service)
        if first is None or max_silence_ms is None:
            out[service] = Monitoring(first)
        else:
            out[service] = await _silences(conn, service, first, after_ms, max_silence_ms)
    return out


async def _silences(
    conn: AsyncConnection, service: str, first: int, after_ms: int, max_silence_ms: int
) -> Monitoring:
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
    return Monitoring(first, tuple(found))
