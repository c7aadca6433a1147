"""Building reports and trends from the read model (the I/O around the domain's figures)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.agreed_time import CalendarVersions, since_always
from pacta.calendars import CALENDAR_24X7
from pacta.durations import format_timestamp_ms
from pacta.logs import get_logger
from reporting import queries
from reporting.domain.availability import AvailabilityFigures, MonthFact, combine, period_figures
from reporting.domain.periods import Bucket, buckets, month_bounds, previous_month
from reporting.domain.report import figures_block, service_report, with_versions
from reporting.domain.tickets import TicketCounts
from reporting.domain.version_counts import VersionKey, by_policy_version
from reporting.domain.versions import month_entries
from reporting.store import q

log = get_logger(__name__)


class UnknownService(LookupError):
    pass


async def services_of(conn: AsyncConnection, schema: str, service: str | None) -> list[str]:
    known = await queries.known_services(conn, schema)
    if service is None:
        return known
    if service not in known:
        raise UnknownService(service)
    return [service]


def _calendar(calendars: dict[str, CalendarVersions], facts: list[MonthFact]) -> CalendarVersions:
    newest = max(facts, key=lambda f: f.month_start_ms)
    found = calendars.get(newest.calendar)
    if found is None:
        # its record not consumed yet, or deleted: all time counts as agreed
        log.warning("availability calendar unknown, counted as 24x7", calendar=newest.calendar)
        return since_always(CALENDAR_24X7)
    return found


async def availability_by_service(
    conn: AsyncConnection,
    schema: str,
    services: list[str],
    start_ms: int,
    end_ms: int,
    now_ms: int,
    calendars: dict[str, CalendarVersions] | None = None,
) -> dict[str, AvailabilityFigures]:
    calendars = calendars if calendars is not None else await queries.calendars(conn, schema)
    facts = await queries.availability_facts(conn, schema, services, start_ms, end_ms)
    return {
        svc: period_figures(fs, _calendar(calendars, fs), start_ms, end_ms, now_ms)
        for svc, fs in facts.items()
        if fs
    }


async def _period(
    conn: AsyncConnection,
    schema: str,
    services: list[str],
    month: str,
    tz: str,
    now_ms: int,
    calendars: dict[str, CalendarVersions],
) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]], dict[str, str | None]]:
    start, end = month_bounds(month, tz)
    avail = await availability_by_service(conn, schema, services, start, end, now_ms, calendars)
    counts = await queries.ticket_counts(conn, schema, services, start, end)
    found = await queries.breaches(conn, schema, services, start, end)
    blocks = {s: figures_block(avail.get(s), counts.get(s)) for s in services}
    policies = {s: avail[s].policy if s in avail else None for s in services}
    return blocks, found, policies


async def monthly(
    conn: AsyncConnection,
    schema: str,
    *,
    month: str,
    tz: str,
    service: str | None,
    now_ms: int,
) -> dict[str, Any]:
    services = await services_of(conn, schema, service)
    calendars = await queries.calendars(conn, schema)
    blocks, found, policies = await _period(conn, schema, services, month, tz, now_ms, calendars)
    before = previous_month(month)
    prev_blocks, prev_found, _ = await _period(
        conn, schema, services, before, tz, now_ms, calendars
    )
    ticket_policies = await _ticket_policies(conn, schema, services)
    start, end = month_bounds(month, tz)
    by_version = await queries.version_counts(conn, schema, services, start, end)
    named = {s: policies[s] or ticket_policies.get(s) for s in services}
    measured_by = {s: _measured_by(named[s], policies[s], by_version.get(s, {})) for s in services}
    records = await queries.policy_records(
        conn, schema, sorted({p for ps in measured_by.values() for p in ps})
    )
    out = []
    for s in services:
        current = blocks[s]
        current["tickets"]["by_policy_version"] = by_policy_version(by_version.get(s, {}))
        entries = [
            e
            for p in measured_by[s]
            if p in records
            for e in month_entries(p, records[p], start, end)
        ]
        out.append(
            service_report(
                s,
                named[s],
                current,
                [with_versions(b) for b in found.get(s, [])],
                {"month": before, **prev_blocks[s], "breach_count": len(prev_found.get(s, []))},
                entries,
            )
        )
    return {
        "month": month,
        "tz": tz,
        "generated_at": format_timestamp_ms(now_ms),
        "period": {"start": format_timestamp_ms(start), "end": format_timestamp_ms(end)},
        "services": out,
    }


def _measured_by(
    policy: str | None, availability_policy: str | None, counts: dict[VersionKey, Any]
) -> list[str]:
    """The policies a service was measured by in the month: those its decided clocks name,
    its availability objective's, and the report's `policy` (sorted, each once)."""
    names = {p for p, _ in counts} | {policy, availability_policy}
    return sorted(n for n in names if n is not None)


async def _ticket_policies(
    conn: AsyncConnection, schema: str, services: list[str]
) -> dict[str, str]:
    rows = await conn.execute(
        sa.text(f"SELECT service, ticket_policy FROM {q(schema)}.services WHERE service = ANY(:s)"),
        {"s": services},
    )
    return {r[0]: r[1] for r in rows if r[1] is not None}


async def trend(
    conn: AsyncConnection,
    schema: str,
    *,
    kind: str,
    service: str | None,
    start_ms: int,
    end_ms: int,
    bucket: Bucket,
    tz: str,
    now_ms: int,
) -> dict[str, Any]:
    services = await services_of(conn, schema, service)
    spans = buckets(start_ms, end_ms, bucket, tz)
    calendars = await queries.calendars(conn, schema) if kind != "breaches" else {}
    facts: dict[str, list[MonthFact]] = {}
    if kind != "breaches":
        # the facts of the whole range once; each bucket recounts its own slice of them
        facts = await queries.availability_facts(conn, schema, services, start_ms, end_ms)
    items = []
    for a, b in spans:
        item: dict[str, Any] = {"start": format_timestamp_ms(a), "end": format_timestamp_ms(b)}
        figs = [
            period_figures(fs, _calendar(calendars, fs), a, b, now_ms)
            for fs in facts.values()
            if fs
        ]
        if kind == "availability":
            item |= _availability_item(combine(figs))
        elif kind == "breaches":
            found = await queries.breaches(conn, schema, services, a, b)
            signals = [x for xs in found.values() for x in xs]
            item["breaches"] = len(signals)
            for metric in ("response", "resolution", "availability"):
                item[metric] = sum(1 for x in signals if x["metric"] == metric)
        else:
            counts = await queries.ticket_counts(conn, schema, services, a, b)
            item |= _mttr_item(list(counts.values()), combine(figs))
        items.append(item)
    return {"items": items}


def _availability_item(fig: AvailabilityFigures | None) -> dict[str, Any]:
    if fig is None:
        return {
            "actual": None,
            "downtime_seconds": None,
            "agreed_service_seconds": None,
            "outages": None,
        }
    return {
        "actual": fig.actual,
        "downtime_seconds": fig.downtime_ms / 1000,
        "agreed_service_seconds": fig.agreed_ms / 1000,
        "outages": fig.outages,
    }


def _mttr_item(counts: list[TicketCounts], fig: AvailabilityFigures | None) -> dict[str, Any]:
    resolved = sum(c.resolution.stopped for c in counts)
    responded = sum(c.response.stopped for c in counts)
    res_ms = sum(c.resolution.elapsed_ms for c in counts)
    resp_ms = sum(c.response.elapsed_ms for c in counts)
    mtrs = None if fig is None else fig.mtrs_ms
    return {
        "resolved": resolved,
        "mttr_seconds": None if not resolved else res_ms / resolved / 1000,
        "mtta_seconds": None if not responded else resp_ms / responded / 1000,
        "outages": None if fig is None else fig.outages,
        "mtrs_seconds": None if mtrs is None else mtrs / 1000,
    }
