"""Tables and queries of the availability half: check journals, down intervals, the windows a
`maintenance` check opens, and the version counter of availability facts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.durations import datetime_to_ms, ms_to_datetime
from sla_engine.domain.availability import OpenInterval
from sla_engine.domain.availability_record import Recorded, base_id
from sla_engine.domain.downtime import CheckEvent, DownInterval
from sla_engine.resources.registry import add_window
from sla_engine.store import driver_connection


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


Check = tuple[str, str]
"""(service, check)"""


def _ts(ms: int | None) -> datetime | None:
    return None if ms is None else ms_to_datetime(ms)


def _interval(
    check: str, start: datetime, end: datetime | None, severity: str, labels: Any
) -> DownInterval:
    end_ms = None if end is None else datetime_to_ms(end)
    return DownInterval(check, datetime_to_ms(start), end_ms, severity, "", labels or {})


Tail = tuple[DownInterval | None, int | None]
"""A check's latest interval, and the latest instant among its journaled events (None: none)."""


def tail_of(
    check: str,
    start: datetime | None,
    end: datetime | None,
    severity: str | None,
    labels: Any,
    seen: datetime | None,
) -> Tail:
    """A `Tail` from the columns `check_tails` reads."""
    last = None if start is None else _interval(check, start, end, str(severity), labels)
    return (last, None if seen is None else datetime_to_ms(seen))


async def check_tails(
    conn: AsyncConnection, *, checks: list[Check], besides: list[str]
) -> dict[Check, Tail]:
    """For each (service, check): its latest interval, and the latest instant among its
    journaled events other than `besides` (the batch's own); one statement for all of them.
    The consumer reads them in its claim statement instead (`store.journal.claim_and_journal`)."""
    if not checks:
        return {}
    result = await conn.execute(
        sa.text(
            "SELECT q.service, q.check_name, d.started_at, d.ended_at, d.severity, d.labels, "
            "(SELECT max(m.occurred_at) FROM sla_engine.monitoring_events m "
            "WHERE m.service = q.service AND m.check_name = q.check_name "
            "AND m.event_id NOT IN (SELECT unnest(CAST(:ids AS text[])))) "
            "FROM unnest(CAST(:services AS text[]), CAST(:checks AS text[])) "
            "AS q(service, check_name) LEFT JOIN LATERAL (SELECT started_at, ended_at, severity, "
            "labels FROM sla_engine.down_intervals i WHERE i.service = q.service "
            "AND i.check_name = q.check_name ORDER BY started_at DESC LIMIT 1) d ON true"
        ),
        {"services": [c[0] for c in checks], "checks": [c[1] for c in checks], "ids": besides},
    )
    return {
        (service, check): tail_of(check, start, end, severity, labels, seen)
        for service, check, start, end, severity, labels, seen in result
    }


Replacement = tuple[str, str, int | None, list[DownInterval]]
"""(service, check, from_ms, intervals): the check's intervals starting at or after `from_ms`
(None: all of them) give way to `intervals`."""


async def replace_intervals(conn: AsyncConnection, replacements: list[Replacement]) -> None:
    """Every replacement of a batch in two statements (one delete, one insert)."""
    if not replacements:
        return
    await conn.execute(
        sa.text(
            "DELETE FROM sla_engine.down_intervals d USING unnest(CAST(:services AS text[]), "
            "CAST(:checks AS text[]), CAST(:froms AS timestamptz[])) AS q(service, check_name, "
            "from_at) WHERE d.service = q.service AND d.check_name = q.check_name "
            "AND (q.from_at IS NULL OR d.started_at >= q.from_at)"
        ),
        {
            "services": [r[0] for r in replacements],
            "checks": [r[1] for r in replacements],
            "froms": [_ts(r[2]) for r in replacements],
        },
    )
    rows = [(service, iv) for service, _check, _from, ivs in replacements for iv in ivs]
    if rows:
        await conn.execute(
            sa.text(
                "INSERT INTO sla_engine.down_intervals "
                "(service, check_name, started_at, ended_at, severity, labels) "
                "SELECT s, c, st, en, sev, CAST(l AS jsonb) FROM unnest(CAST(:services AS text[]), "
                "CAST(:checks AS text[]), CAST(:starts AS timestamptz[]), "
                "CAST(:ends AS timestamptz[]), CAST(:severities AS text[]), "
                "CAST(:labels AS text[])) AS r(s, c, st, en, sev, l)"
            ),
            {
                "services": [service for service, _ in rows],
                "checks": [iv.check for _, iv in rows],
                "starts": [_ts(iv.start_ms) for _, iv in rows],
                "ends": [_ts(iv.end_ms) for _, iv in rows],
                "severities": [iv.severity for _, iv in rows],
                "labels": [orjson.dumps(dict(iv.labels)).decode() for _, iv in rows],
            },
        )


async def replace_check_intervals(
    conn: AsyncConnection,
    *,
    service: str,
    check: str,
    intervals: list[DownInterval],
    from_ms: int | None = None,
) -> None:
    """Replace the check's intervals (those starting at or after `from_ms`, if given)."""
    await replace_intervals(conn, [(service, check, from_ms, intervals)])


async def intervals_of(
    conn: AsyncConnection, *, after_ms: dict[str, int]
) -> dict[str, list[DownInterval]]:
    """For each service, its check intervals still going on at or after its instant."""
    out: dict[str, list[DownInterval]] = {service: [] for service in after_ms}
    if not after_ms:
        return out
    result = await conn.execute(
        sa.text(
            "SELECT d.service, check_name, started_at, ended_at, severity, labels "
            "FROM unnest(CAST(:services AS text[]), CAST(:afters AS timestamptz[])) "
            "AS q(service, after) JOIN sla_engine.down_intervals d ON d.service = q.service "
            "AND (d.ended_at IS NULL OR d.ended_at >= q.after) "
            "ORDER BY d.service, started_at, check_name"
        ),
        {"services": list(after_ms), "afters": [ms_to_datetime(a) for a in after_ms.values()]},
    )
    for service, check, start, end, severity, labels in result:
        out[service].append(_interval(check, start, end, severity, labels))
    return out


class PlanInputs(NamedTuple):
    """What re-planning a service reads (`plan_inputs`)."""

    intervals: list[DownInterval]  # `intervals_of`
    windows: list[OpenInterval]  # `windows_of`
    recorded: list[Recorded]  # `recorded_signals_of`
    first_ms: int | None  # its first monitoring event of any check, ever (`monitoring_many`)


async def plan_inputs(conn: AsyncConnection, *, after_ms: dict[str, int]) -> dict[str, PlanInputs]:
    """For each service, from its instant on: `intervals_of`, `windows_of`,
    `recorded_signals_of` and its first monitoring event, in one statement (one round trip
    where four took one each)."""
    out: dict[str, PlanInputs] = {s: PlanInputs([], [], [], None) for s in after_ms}
    if not after_ms:
        return out
    raw = await driver_connection(conn)  # many rows: the driver's own records
    result = await raw.fetch(
        (
            "WITH q AS (SELECT * FROM unnest(CAST($1 AS text[]), "
            "CAST($2 AS timestamptz[])) AS q(service, after)) "
            "SELECT 0 AS part, d.service, d.check_name AS name, d.started_at AS a, "
            "d.ended_at AS b, d.severity AS c, d.labels, NULL::boolean AS retracted "
            "FROM q JOIN sla_engine.down_intervals d ON d.service = q.service "
            "AND (d.ended_at IS NULL OR d.ended_at >= q.after) UNION ALL "
            "SELECT 1, w.service, NULL, w.starts_at, w.ends_at, NULL, NULL, NULL "
            "FROM q JOIN sla_engine.maintenance_windows w ON w.service = q.service "
            "AND (w.ends_at IS NULL OR w.ends_at >= q.after) UNION ALL "
            "SELECT 2, s.service, s.signal_id, NULL, NULL, s.kind, NULL, s.retracted "
            "FROM q JOIN sla_engine.signals s ON s.service = q.service AND s.occurred_at >= q.after "
            "WHERE s.metric = 'availability' AND s.kind <> 'retracted' UNION ALL "
            "SELECT 3, q.service, NULL, (SELECT min(occurred_at) FROM sla_engine.monitoring_events m "
            "WHERE m.service = q.service), NULL, NULL, NULL, NULL FROM q "
            # each part in the order its own query gave it
            "ORDER BY part, service, a, name"
        ),
        list(after_ms),
        [ms_to_datetime(a) for a in after_ms.values()],
    )
    for part, service, name, a, b, c, labels, retracted in result:
        got = out[service]
        if part == 0:
            got.intervals.append(_interval(name, a, b, c, labels))
        elif part == 1:
            got.windows.append((datetime_to_ms(a), None if b is None else datetime_to_ms(b)))
        elif part == 2:
            got.recorded.append(Recorded(name, c, _month_of_id(name), bool(retracted)))
        elif a is not None:
            out[service] = got._replace(first_ms=datetime_to_ms(a))
    return out


async def windows_of(
    conn: AsyncConnection, *, after_ms: dict[str, int]
) -> dict[str, list[OpenInterval]]:
    """For each service, its maintenance windows still going on at or after its instant."""
    out: dict[str, list[OpenInterval]] = {service: [] for service in after_ms}
    if not after_ms:
        return out
    result = await conn.execute(
        sa.text(
            "SELECT w.service, starts_at, ends_at FROM unnest(CAST(:services AS text[]), "
            "CAST(:afters AS timestamptz[])) AS q(service, after) "
            "JOIN sla_engine.maintenance_windows w ON w.service = q.service "
            "AND (w.ends_at IS NULL OR w.ends_at >= q.after) ORDER BY w.service, starts_at"
        ),
        {"services": list(after_ms), "afters": [ms_to_datetime(a) for a in after_ms.values()]},
    )
    for service, start, end in result:
        out[service].append((datetime_to_ms(start), None if end is None else datetime_to_ms(end)))
    return out


async def service_intervals(
    conn: AsyncConnection, *, service: str, after_ms: int
) -> list[DownInterval]:
    """The service's check intervals still going on at or after `after_ms`."""
    return (await intervals_of(conn, after_ms={service: after_ms}))[service]


async def service_windows(
    conn: AsyncConnection, *, service: str, after_ms: int
) -> list[OpenInterval]:
    """The service's maintenance windows still going on at or after `after_ms`."""
    return (await windows_of(conn, after_ms={service: after_ms}))[service]


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
    return (await recorded_signals_of(conn, after_ms={service: after_ms}))[service]


async def recorded_signals_of(
    conn: AsyncConnection, *, after_ms: dict[str, int]
) -> dict[str, list[Recorded]]:
    """`recorded_signals` of several services (each from its own instant), in one statement."""
    out: dict[str, list[Recorded]] = {service: [] for service in after_ms}
    if not after_ms:
        return out
    result = await conn.execute(
        sa.text(
            "SELECT s.service, signal_id, kind, retracted FROM unnest(CAST(:services AS text[]), "
            "CAST(:afters AS timestamptz[])) AS q(service, after) "
            "JOIN sla_engine.signals s ON s.service = q.service AND s.occurred_at >= q.after "
            "WHERE s.metric = 'availability' AND s.kind <> 'retracted'"
        ),
        {"services": list(after_ms), "afters": [ms_to_datetime(a) for a in after_ms.values()]},
    )
    for service, signal_id, kind, retracted in result:
        out[service].append(Recorded(signal_id, kind, _month_of_id(signal_id), bool(retracted)))
    return out


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
