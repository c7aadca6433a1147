"""Building reports and trends from the read model (the I/O around the domain's figures)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.agreed_time import CalendarVersions, since_always
from pacta.calendars import CALENDAR_24X7
from pacta.durations import format_timestamp_ms
from pacta.logs import get_logger
from reporting import queries
from reporting.domain.availability import AvailabilityFigures, MonthFact, combine, period_figures
from reporting.domain.periods import (
    Bucket,
    PeriodError,
    buckets,
    month_bounds,
    previous_month,
)
from reporting.domain.report import figures_block, service_report, with_versions
from reporting.domain.tickets import Tally, TicketCounts, ticket_figures
from reporting.domain.version_counts import VersionKey
from reporting.domain.version_counts import by_policy_version as by_version_figures
from reporting.domain.versions import compliance_targets, month_entries
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
    out = {}
    for svc, fs in facts.items():
        fig = period_figures(fs, _calendar(calendars, fs), start_ms, end_ms, now_ms) if fs else None
        if fig is not None:
            out[svc] = fig
    return out


@dataclass(frozen=True, slots=True)
class Period:
    """A month's figures per service, its breaches, its availability policies and counts."""

    blocks: dict[str, dict[str, Any]]
    breaches: dict[str, list[dict[str, Any]]]
    policies: dict[str, str]
    counts: dict[str, TicketCounts]


class MonthNotStarted(ValueError):
    """A report asked for a month whose first instant (in its zone) lies in the future."""


async def _period(
    conn: AsyncConnection,
    schema: str,
    services: list[str],
    month: str,
    tz: str,
    now_ms: int,
    calendars: dict[str, CalendarVersions],
) -> Period:
    try:
        start, end = month_bounds(month, tz)
    except PeriodError:
        # the month before January 1970: nobody measured it
        return Period({s: figures_block(None, None) for s in services}, {}, {}, {})
    avail = await availability_by_service(conn, schema, services, start, end, now_ms, calendars)
    counts = await queries.ticket_counts(conn, schema, services, start, end)
    found = await queries.breaches(conn, schema, services, start, end)
    blocks = {s: figures_block(avail.get(s), counts.get(s)) for s in services}
    policies = {s: p for s in services if s in avail and (p := avail[s].policy) is not None}
    return Period(blocks, found, policies, dict(counts))


async def monthly(
    conn: AsyncConnection,
    schema: str,
    *,
    month: str,
    tz: str,
    service: str | None,
    now_ms: int,
) -> dict[str, Any]:
    start, end = month_bounds(month, tz)
    if start > now_ms:
        raise MonthNotStarted(month)
    services = await services_of(conn, schema, service)
    calendars = await queries.calendars(conn, schema)
    this = await _period(conn, schema, services, month, tz, now_ms, calendars)
    blocks, found, policies = this.blocks, this.breaches, this.policies
    before = previous_month(month)
    prev = await _period(conn, schema, services, before, tz, now_ms, calendars)
    prev_blocks, prev_found = prev.blocks, prev.breaches
    ticket_policies = await _ticket_policies(conn, schema, services)
    by_version = await queries.version_counts(conn, schema, services, start, end)
    named = {s: policies.get(s) or ticket_policies.get(s) for s in services}
    measured_by = {
        s: _measured_by(named[s], policies.get(s), by_version.get(s, {})) for s in services
    }
    records = await queries.policy_records(
        conn, schema, sorted({p for ps in measured_by.values() for p in ps})
    )
    as_of = min(now_ms, end)
    work = await queries.workload(conn, schema, services, start, as_of)
    out = []
    for s in services:
        current = blocks[s]
        record = records.get(named[s] or "")
        targets = compliance_targets(record, end) if record else {}
        current["tickets"] = ticket_figures(this.counts.get(s) or TicketCounts(), targets)
        current["tickets"]["by_policy_version"] = by_version_figures(by_version.get(s, {}))
        entries = [
            e
            for p in measured_by[s]
            if p in records
            for e in month_entries(p, records[p], start, end)
        ]
        report = service_report(
            s,
            named[s],
            current,
            [with_versions(b) for b in found.get(s, [])],
            {"month": before, **prev_blocks[s], "breach_count": len(prev_found.get(s, []))},
            entries,
        )
        report["workload"] = work.get(s) or queries.empty_workload()
        out.append(report)
    return {
        "month": month,
        "tz": tz,
        "generated_at": format_timestamp_ms(now_ms),
        "period": {"start": format_timestamp_ms(start), "end": format_timestamp_ms(end)},
        "partial": now_ms < end,
        "as_of": format_timestamp_ms(as_of),
        "published_at": None,
        "revision": None,
        "restatements": [],
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
    """Buckets of the range; a bucket still to come has every figure null, and one nobody
    measured has null availability (the same rule as a month's report, whatever range)."""
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
        future = a >= now_ms
        figs = [
            period_figures(fs, _calendar(calendars, fs), a, b, now_ms)
            for fs in facts.values()
            if fs
        ]
        if kind == "availability":
            item |= _availability_item(combine(figs))
        elif kind == "breaches":
            found = {} if future else await queries.breaches(conn, schema, services, a, b)
            signals = [x for xs in found.values() for x in xs]
            item["breaches"] = None if future else len(signals)
            for metric in ("response", "resolution", "availability"):
                item[metric] = None if future else sum(1 for x in signals if x["metric"] == metric)
        else:
            counts = {} if future else await queries.ticket_counts(conn, schema, services, a, b)
            item |= _mttr_item(list(counts.values()), combine(figs), future)
        items.append(item)
    return {"items": items}


def _availability_item(fig: AvailabilityFigures | None) -> dict[str, Any]:
    if fig is None:
        return {
            "actual": None,
            "downtime_seconds": None,
            "agreed_service_seconds": None,
            "unmeasured_seconds": None,
            "coverage": None,
            "outages": None,
        }
    return {
        "actual": fig.actual,
        "downtime_seconds": fig.downtime_ms / 1000,
        "agreed_service_seconds": fig.agreed_ms / 1000,
        "unmeasured_seconds": fig.unmeasured_ms / 1000,
        "coverage": fig.coverage,
        "outages": fig.outages,
    }


def _mttr_item(
    counts: list[TicketCounts], fig: AvailabilityFigures | None, future: bool
) -> dict[str, Any]:
    resolved = sum(c.resolution.stopped for c in counts)
    responded = sum(c.response.stopped for c in counts)
    res_ms = sum(c.resolution.elapsed_ms for c in counts)
    resp_ms = sum(c.response.elapsed_ms for c in counts)
    mtrs = None if fig is None else fig.mtrs_ms
    compliance = {}
    for metric in ("response", "resolution"):
        total = Tally()
        for c in counts:
            t = c.tally(metric)
            total.add(t.met, t.breached, 0, 0)
        compliance[f"{metric}_compliance"] = total.compliance
    return {
        "resolved": None if future else resolved,
        "mttr_seconds": None if not resolved else res_ms / resolved / 1000,
        "mtta_seconds": None if not responded else resp_ms / responded / 1000,
        "outages": None if fig is None else fig.outages,
        "mtrs_seconds": None if mtrs is None else mtrs / 1000,
        **compliance,
    }
