"""The reporting schema, read side: the daily aggregates for whole UTC days, the rows for the
partial days at a period's edges, the availability facts and calendars a period needs."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.agreed_time import CalendarVersions, since_always
from pacta.calendars import BUILTIN_CALENDARS
from pacta.durations import ms_to_datetime
from pacta.logs import get_logger
from reporting.domain.availability import MonthFact, from_view
from reporting.domain.periods import split_days
from reporting.domain.tickets import NO_PRIORITY, Tally, TicketCounts
from reporting.domain.version_counts import VersionKey, stored_key
from reporting.domain.versions import calendar_versions
from reporting.store import q

log = get_logger(__name__)


async def known_services(conn: AsyncConnection, schema: str) -> list[str]:
    rows = await conn.execute(sa.text(f"SELECT service FROM {q(schema)}.services ORDER BY 1"))
    return [r[0] for r in rows]


async def calendars(conn: AsyncConnection, schema: str) -> dict[str, CalendarVersions]:
    """Every calendar by name with its versions (one since always for a record without)."""
    out: dict[str, CalendarVersions] = {
        name: since_always(cal) for name, cal in BUILTIN_CALENDARS.items()
    }
    rows = await conn.execute(sa.text(f"SELECT name, body FROM {q(schema)}.calendars"))
    for name, body in rows:
        try:
            out[name] = calendar_versions(name, body)
        except (ValueError, KeyError, TypeError):
            log.error("unusable calendar record", calendar=name)
    return out


async def policy_records(
    conn: AsyncConnection, schema: str, names: list[str]
) -> dict[str, dict[str, Any]]:
    rows = await conn.execute(
        sa.text(f"SELECT name, body FROM {q(schema)}.policies WHERE name = ANY(:n)"),
        {"n": names},
    )
    return {name: body for name, body in rows}


async def version_counts(
    conn: AsyncConnection, schema: str, services: list[str], start_ms: int, end_ms: int
) -> dict[str, dict[VersionKey, dict[str, Tally]]]:
    """Clock outcomes per (policy, version) over [start_ms, end_ms), counted as
    `ticket_counts` counts them: whole UTC days from the daily aggregate, edges from the rows."""
    s = q(schema)
    split = split_days(start_ms, end_ms)
    out: dict[str, dict[VersionKey, dict[str, Tally]]] = defaultdict(dict)

    def add(service: str, key: VersionKey, metric: str, met: int, breached: int) -> None:
        tally = out[service].setdefault(key, {}).setdefault(metric, Tally())
        tally.add(met, breached, 0, 0)

    params: dict[str, Any] = {"svc": services}
    if split.first_day is not None:
        params |= {"d0": split.first_day, "d1": split.end_day}
        days = await conn.execute(
            sa.text(
                "SELECT service, policy, policy_version, metric, sum(met), sum(breached) "
                f"FROM {s}.clock_version_days WHERE service = ANY(:svc) AND day >= :d0 "
                "AND day < :d1 GROUP BY 1, 2, 3, 4"
            ),
            params,
        )
        for service, policy, version, metric, met, breached in days:
            add(service, stored_key(policy, int(version)), metric, int(met), int(breached))
    if split.edges:
        for i, (a, b) in enumerate(split.edges):
            params[f"a{i}"], params[f"b{i}"] = ms_to_datetime(a), ms_to_datetime(b)
        edges = await conn.execute(
            sa.text(
                "SELECT service, policy, policy_version, metric, "
                "count(*) FILTER (WHERE state = 'met'), "
                f"count(*) FILTER (WHERE state = 'breached') FROM {s}.clocks "
                f"WHERE service = ANY(:svc) AND ({_range_sql('outcome_at', len(split.edges))}) "
                "GROUP BY 1, 2, 3, 4"
            ),
            params,
        )
        for service, policy, version, metric, met, breached in edges:
            add(
                service,
                (policy, None if version is None else int(version)),
                metric,
                int(met),
                int(breached),
            )
    return out


async def availability_facts(
    conn: AsyncConnection, schema: str, services: list[str], start_ms: int, end_ms: int
) -> dict[str, list[MonthFact]]:
    """Per service, the facts of the calendar months overlapping the period plus the newest
    one before it (its objective stands until a newer month says otherwise, and an outage
    still open in it runs on)."""
    s = q(schema)
    params = {"svc": services, "a": ms_to_datetime(start_ms), "b": ms_to_datetime(end_ms)}
    rows = await conn.execute(
        sa.text(
            f"SELECT view FROM {s}.availability WHERE service = ANY(:svc) "
            "AND month_start < :b AND month_end > :a "
            "UNION ALL SELECT view FROM (SELECT DISTINCT ON (service) view FROM "
            f"{s}.availability WHERE service = ANY(:svc) AND month_end <= :a "
            "ORDER BY service, month_start DESC) AS before"
        ),
        params,
    )
    out: dict[str, list[MonthFact]] = defaultdict(list)
    for (view,) in rows:
        fact = from_view(view)
        out[fact.service].append(fact)
    return out


def _range_sql(column: str, count: int) -> str:
    return " OR ".join(f"({column} >= :a{i} AND {column} < :b{i})" for i in range(count))


async def ticket_counts(
    conn: AsyncConnection, schema: str, services: list[str], start_ms: int, end_ms: int
) -> dict[str, TicketCounts]:
    """Clock outcomes and ticket counts over [start_ms, end_ms): whole UTC days from the daily
    aggregates (kept up to date as facts arrive), the partial days at the edges from the rows."""
    s = q(schema)
    split = split_days(start_ms, end_ms)
    out: dict[str, TicketCounts] = defaultdict(TicketCounts)
    params: dict[str, Any] = {"svc": services}
    if split.first_day is not None:
        params |= {"d0": split.first_day, "d1": split.end_day}
        days = await conn.execute(
            sa.text(
                "SELECT service, metric, priority, sum(met), sum(breached), sum(stopped), "
                f"sum(elapsed_ms) FROM {s}.clock_days WHERE service = ANY(:svc) "
                "AND day >= :d0 AND day < :d1 GROUP BY service, metric, priority"
            ),
            params,
        )
        for service, metric, priority, met, breached, stopped, elapsed in days:
            out[service].add(metric, priority, int(met), int(breached), int(stopped), int(elapsed))
        tdays = await conn.execute(
            sa.text(
                f"SELECT service, kind, priority, sum(count), sum(failed) FROM {s}.ticket_days "
                "WHERE service = ANY(:svc) AND day >= :d0 AND day < :d1 "
                "GROUP BY service, kind, priority"
            ),
            params,
        )
        for service, kind, priority, count, failed in tdays:
            _add_tickets(out[service], kind, priority, int(count), int(failed))
    if split.edges:
        for i, (a, b) in enumerate(split.edges):
            params[f"a{i}"], params[f"b{i}"] = ms_to_datetime(a), ms_to_datetime(b)
        n = len(split.edges)
        await _edge_clocks(conn, s, params, n, out)
        await _edge_tickets(conn, s, params, n, out)
    return out


async def _edge_clocks(
    conn: AsyncConnection, s: str, params: dict[str, Any], n: int, out: dict[str, TicketCounts]
) -> None:
    decided = await conn.execute(
        sa.text(
            f"SELECT service, metric, priority, count(*) FILTER (WHERE state = 'met'), "
            f"count(*) FILTER (WHERE state = 'breached') FROM {s}.clocks "
            f"WHERE service = ANY(:svc) AND ({_range_sql('outcome_at', n)}) GROUP BY 1, 2, 3"
        ),
        params,
    )
    for service, metric, priority, met, breached in decided:
        out[service].add(metric, priority, int(met), int(breached), 0, 0)
    stopped = await conn.execute(
        sa.text(
            f"SELECT service, metric, priority, count(*), sum(elapsed_ms) FROM {s}.clocks "
            f"WHERE service = ANY(:svc) AND ({_range_sql('stopped_at', n)}) GROUP BY 1, 2, 3"
        ),
        params,
    )
    for service, metric, priority, count, elapsed in stopped:
        out[service].add(metric, priority, 0, 0, int(count), int(elapsed))


async def _edge_tickets(
    conn: AsyncConnection, s: str, params: dict[str, Any], n: int, out: dict[str, TicketCounts]
) -> None:
    opened = await conn.execute(
        sa.text(
            f"SELECT service, coalesce(priority, '{NO_PRIORITY}'), count(*) FROM {s}.tickets "
            f"WHERE service = ANY(:svc) AND type <> 'change' AND ({_range_sql('opened_at', n)}) "
            "GROUP BY 1, 2"
        ),
        params,
    )
    for service, priority, count in opened:
        _add_tickets(out[service], "opened", priority, int(count), 0)
    changes = await conn.execute(
        sa.text(
            f"SELECT service, count(*), count(*) FILTER (WHERE outcome = 'failed') "
            f"FROM {s}.tickets WHERE service = ANY(:svc) AND type = 'change' "
            f"AND ({_range_sql('completed_at', n)}) GROUP BY 1"
        ),
        params,
    )
    for service, count, failed in changes:
        _add_tickets(out[service], "change", "", int(count), int(failed))


def _add_tickets(counts: TicketCounts, kind: str, priority: str, count: int, failed: int) -> None:
    if kind == "change":
        counts.changes += count
        counts.changes_failed += failed
    elif count:
        counts.opened[priority] = counts.opened.get(priority, 0) + count


async def breaches(
    conn: AsyncConnection, schema: str, services: list[str], start_ms: int, end_ms: int
) -> dict[str, list[dict[str, Any]]]:
    """Breach signals in the period by event time; a retracted breach is not a breach."""
    s = q(schema)
    rows = await conn.execute(
        sa.text(
            f"SELECT service, body FROM {s}.signals AS g WHERE service = ANY(:svc) "
            "AND kind IN ('breach', 'availability_breach') AND occurred_at >= :a "
            f"AND occurred_at < :b AND NOT EXISTS (SELECT 1 FROM {s}.retractions r "
            "WHERE r.signal_id = g.signal_id) ORDER BY occurred_at, signal_id"
        ),
        {"svc": services, "a": ms_to_datetime(start_ms), "b": ms_to_datetime(end_ms)},
    )
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for service, body in rows:
        out[service].append(body)
    return out


async def open_clocks(conn: AsyncConnection, schema: str, limit: int) -> list[dict[str, Any]]:
    """Running clocks, the nearest deadline first (a paused clock cannot breach: not at risk);
    `warned` where a warning signal fired for it."""
    s = q(schema)
    rows = await conn.execute(
        sa.text(
            "SELECT ticket_id, metric, service, priority, policy, policy_version, state, "
            "deadline, target_ms, "
            f"elapsed_ms, EXISTS (SELECT 1 FROM {s}.signals g WHERE g.ticket_id = c.ticket_id "
            "AND g.metric = c.metric AND g.kind = 'warning') AS warned "
            f"FROM {s}.clocks c WHERE state = 'running' AND deadline IS NOT NULL "
            "ORDER BY deadline, ticket_id, metric LIMIT :n"
        ),
        {"n": limit},
    )
    return [dict(r._mapping) for r in rows]


async def recent_breaches(conn: AsyncConnection, schema: str, limit: int) -> list[dict[str, Any]]:
    s = q(schema)
    rows = await conn.execute(
        sa.text(
            f"SELECT body FROM {s}.signals g WHERE kind IN ('breach', 'availability_breach') "
            f"AND NOT EXISTS (SELECT 1 FROM {s}.retractions r WHERE r.signal_id = g.signal_id) "
            "ORDER BY occurred_at DESC, signal_id LIMIT :n"
        ),
        {"n": limit},
    )
    return [r[0] for r in rows]


TICKET_TYPES = ("incident", "service_request", "problem", "change")


async def workload(
    conn: AsyncConnection, schema: str, services: list[str], start_ms: int, end_ms: int
) -> dict[str, dict[str, dict[str, int]]]:
    """Per service and ticket type: opened and closed (first resolved or closed) in
    [start_ms, end_ms), and the backlog (opened before `end_ms`, not closed by then)."""
    a, b = ms_to_datetime(start_ms), ms_to_datetime(end_ms)
    rows = await conn.execute(
        sa.text(
            "SELECT service, type, "
            "count(*) FILTER (WHERE opened_at >= :a), "
            "count(*) FILTER (WHERE completed_at >= :a AND completed_at < :b), "
            "count(*) FILTER (WHERE completed_at IS NULL OR completed_at >= :b) "
            f"FROM {q(schema)}.tickets WHERE service = ANY(:svc) AND opened_at < :b "
            "AND (completed_at IS NULL OR completed_at >= :a) GROUP BY 1, 2"
        ),
        {"svc": services, "a": a, "b": b},
    )
    out: dict[str, dict[str, dict[str, int]]] = {}
    for service, kind, opened, closed, backlog in rows:
        types = out.setdefault(service, _empty_workload())
        block = types.setdefault(kind, {"opened": 0, "closed": 0, "backlog": 0})
        block["opened"] += int(opened)
        block["closed"] += int(closed)
        block["backlog"] += int(backlog)
    return out


def _empty_workload() -> dict[str, dict[str, int]]:
    return {t: {"opened": 0, "closed": 0, "backlog": 0} for t in TICKET_TYPES}


def empty_workload() -> dict[str, dict[str, int]]:
    return _empty_workload()
