"""The reporting schema, write side: each record kind folded into the read model, the daily
aggregates moved by the difference each record makes. Every function takes the schema, so a
rebuild writes into a fresh one with the same code."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.durations import ms_to_datetime
from pacta.events import Signal
from reporting import store_days
from reporting.domain.availability import fact_view, parse_fact
from reporting.domain.instants import instant_ms
from reporting.domain.ticket_life import TicketEventView, TicketLife, merge, ticket_delta
from reporting.domain.tickets import ClockDay, ClockOutcome, clock_days, clock_delta
from reporting.domain.version_counts import VersionDay, version_days, version_delta
from reporting.store_rows import insert_rows

SCHEMA = "reporting"
_IDENT = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def q(schema: str) -> str:
    """The schema, checked (it is formatted into SQL)."""
    if not _IDENT.fullmatch(schema):
        raise ValueError(f"bad schema name {schema!r}")
    return schema


def _ts(ms: int | None) -> datetime | None:
    return None if ms is None else ms_to_datetime(ms)


def _ms(text: str | None) -> int | None:
    return None if text is None else instant_ms(text)


async def add_services(conn: AsyncConnection, schema: str, names: Iterable[str]) -> None:
    rows = [(n,) for n in sorted(set(names))]
    await insert_rows(conn, f"{q(schema)}.services", "service text", rows, "ON CONFLICT DO NOTHING")


# ---- clocks ------------------------------------------------------------------------------


def clock_outcome(fact: dict[str, Any]) -> ClockOutcome:
    return ClockOutcome(
        ticket_id=fact["ticket_id"],
        metric=fact["metric"],
        service=fact["service"],
        priority=fact.get("priority"),
        state=fact["state"],
        version=int(fact["version"]),
        elapsed_ms=round(float(fact["elapsed_seconds"]) * 1000),
        stopped_ms=_ms(fact.get("stopped_at")),
        breached_ms=_ms(fact.get("breached_at")),
        deadline_ms=_ms(fact.get("deadline")),
        policy=fact.get("policy"),
        policy_version=_version(fact.get("policy_version")),
    )


def _version(value: Any) -> int | None:
    # a fact from before versions has no key (or null): counted under no version
    return None if value is None or isinstance(value, bool) else int(value)


_CLOCK_COLUMNS = (
    "ticket_id text, metric text, service text, policy text, priority text, state text, "
    "version bigint, elapsed_ms bigint, target_ms bigint, started_at ms, "
    "stopped_at ms, breached_at ms, deadline ms, outcome_at ms, body jsonb, policy_version bigint"
)


class PreparedClock(NamedTuple):
    """A clock fact read ahead of its transaction: its outcome, its row and its contribution
    to the daily aggregates, which is the whole change when the clock is new."""

    fact: dict[str, Any]
    outcome: ClockOutcome
    row: tuple[Any, ...]
    days: list[ClockDay]
    versions: list[VersionDay]


def prepare_clock(fact: dict[str, Any]) -> PreparedClock:
    """Raises what `apply_clock_facts` raises for the fact (a missing key, a bad instant)."""
    new = clock_outcome(fact)
    target, started = fact.get("target_seconds"), fact.get("started_at")
    row = (
        new.ticket_id,
        new.metric,
        new.service,
        fact.get("policy"),
        new.priority,
        new.state,
        new.version,
        new.elapsed_ms,
        None if target is None else round(float(target) * 1000),
        None if started is None else instant_ms(started),
        new.stopped_ms,
        new.breached_ms,
        new.deadline_ms,
        new.outcome_ms,
        orjson.dumps(fact).decode(),
        new.policy_version,
    )
    return PreparedClock(fact, new, row, clock_days(new), version_days(new))


async def apply_clock_facts(
    conn: AsyncConnection,
    schema: str,
    facts: list[dict[str, Any]],
    totals: store_days.DayTotals | None = None,
    prepared: Mapping[tuple[str, str], PreparedClock] | None = None,
) -> int:
    """Keep each clock's newest fact (by version); returns how many clocks changed. A fact in
    `prepared` (by its clock, `prepare_clock`) is not prepared again. The daily aggregates and
    the services' ticket policies move now, or, given `totals`, when the caller writes those."""
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for fact in facts:
        key = (fact["ticket_id"], fact["metric"])
        have = newest.get(key)
        if have is None or int(fact["version"]) > int(have["version"]):
            newest[key] = fact
    if not newest:
        return 0
    s = q(schema)
    rows = await conn.execute(
        sa.text(
            f"SELECT body FROM {s}.clocks WHERE (ticket_id, metric) IN "
            "(SELECT * FROM unnest(CAST(:t AS text[]), CAST(:m AS text[]))) FOR UPDATE"
        ),
        {"t": [k[0] for k in newest], "m": [k[1] for k in newest]},
    )
    old = {(b["ticket_id"], b["metric"]): b for (b,) in rows}
    upserts: list[tuple[Any, ...]] = []
    days: dict[store_days.ClockKey, list[int]] = {}
    by_version: dict[store_days.VersionKey, list[int]] = {}
    policies: set[tuple[str, str]] = set()
    ready_made = prepared or {}
    for key, fact in newest.items():
        before = old.get(key)
        if before is not None and int(before["version"]) >= int(fact["version"]):
            continue  # an older or the same version: already counted
        ready = ready_made.get(key)
        if ready is None or ready.fact is not fact:
            ready = prepare_clock(fact)
        new = ready.outcome
        if before is None:  # a new clock: its own contribution is the change
            day_rows, version_rows = ready.days, ready.versions
        else:
            prior = clock_outcome(before)
            day_rows, version_rows = clock_delta(prior, new), version_delta(prior, new)
        for d in day_rows:
            acc = days.get((d.service, d.day, d.metric, d.priority))
            if acc is None:
                days[(d.service, d.day, d.metric, d.priority)] = [
                    d.met,
                    d.breached,
                    d.stopped,
                    d.elapsed_ms,
                ]
            else:
                acc[0] += d.met
                acc[1] += d.breached
                acc[2] += d.stopped
                acc[3] += d.elapsed_ms
        for v in version_rows:
            vacc = by_version.get(v.key)
            if vacc is None:
                by_version[v.key] = [v.met, v.breached]
            else:
                vacc[0] += v.met
                vacc[1] += v.breached
        policy = fact.get("policy")
        if policy is not None:
            policies.add((new.service, policy))
        upserts.append(ready.row)
    sets = ", ".join(
        f"{c.split()[0]} = EXCLUDED.{c.split()[0]}" for c in _CLOCK_COLUMNS.split(", ")[2:]
    )
    await insert_rows(
        conn,
        f"{s}.clocks",
        _CLOCK_COLUMNS,
        upserts,
        f"ON CONFLICT (ticket_id, metric) DO UPDATE SET {sets}",
    )
    if totals is None:
        await add_ticket_policies(conn, schema, policies)
    else:
        totals.policies |= policies
    await store_days.add(
        conn,
        s,
        totals,
        clock={k: v for k, v in days.items() if v[0] or v[1] or v[2] or v[3]},
        version={k: v for k, v in by_version.items() if v[0] or v[1]},
    )
    return len(upserts)


async def add_ticket_policies(
    conn: AsyncConnection, schema: str, policies: Iterable[tuple[str, str]]
) -> None:
    """Each service's ticket policy becomes the least of it and the (service, policy) pairs'."""
    ordered = sorted(policies)
    if not ordered:
        return
    # the least name per service in SQL, as LEAST compares (the column's collation)
    await conn.execute(
        sa.text(
            f"UPDATE {q(schema)}.services t SET ticket_policy = "
            "LEAST(coalesce(t.ticket_policy, u.p), u.p) FROM (SELECT s, min(p) AS p FROM "
            "unnest(CAST(:s AS text[]), CAST(:p AS text[])) AS x(s, p) GROUP BY s) u "
            "WHERE t.service = u.s"
        ),
        {"s": [svc for svc, _ in ordered], "p": [p for _, p in ordered]},
    )


# ---- availability ------------------------------------------------------------------------


async def apply_availability_facts(
    conn: AsyncConnection, schema: str, facts: list[dict[str, Any]]
) -> None:
    """Keep each service-month's newest fact (the engine bumps the version on every change)."""
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for fact in facts:
        key = (fact["service"], fact["month"])
        if key not in newest or int(fact["version"]) > int(newest[key]["version"]):
            newest[key] = fact
    rows = []
    for fact in newest.values():
        view = parse_fact(fact)
        rows.append(
            (
                view.service,
                view.month,
                view.version,
                view.month_start_ms,
                view.month_end_ms,
                orjson.dumps(fact).decode(),
                orjson.dumps(fact_view(view)).decode(),
            )
        )
    await insert_rows(
        conn,
        f"{q(schema)}.availability",
        "service text, month text, version bigint, month_start ms, month_end ms, body jsonb, "
        "view jsonb",
        rows,
        "ON CONFLICT (service, month) DO UPDATE SET version = EXCLUDED.version, "
        "month_start = EXCLUDED.month_start, month_end = EXCLUDED.month_end, "
        "body = EXCLUDED.body, view = EXCLUDED.view WHERE t.version < EXCLUDED.version",
    )


# ---- tickets ------------------------------------------------------------------------------


def _life_body(life: TicketLife) -> dict[str, Any]:
    return life._asdict()


def _life(body: dict[str, Any]) -> TicketLife:
    fields = dict(body)
    for stamp in ("latest", "priority_at", "outcome_at"):
        if fields.get(stamp) is not None:
            fields[stamp] = (int(fields[stamp][0]), str(fields[stamp][1]))
    return TicketLife(**fields)


async def apply_ticket_events(
    conn: AsyncConnection,
    schema: str,
    events: list[TicketEventView],
    totals: store_days.DayTotals | None = None,
) -> None:
    """Fold the events into their tickets' lives; the daily aggregates move now, or, given
    `totals`, when the caller writes those."""
    if not events:
        return
    s = q(schema)
    ids = sorted({e.ticket_id for e in events})
    rows = await conn.execute(
        sa.text(f"SELECT body FROM {s}.tickets WHERE ticket_id = ANY(:ids) FOR UPDATE"),
        {"ids": ids},
    )
    before = {b["ticket_id"]: _life(b) for (b,) in rows}
    after = dict(before)
    for e in events:
        after[e.ticket_id] = merge(after.get(e.ticket_id), e)
    deltas = [d for t in ids for d in ticket_delta(before.get(t), after[t])]
    await insert_rows(
        conn,
        f"{s}.tickets",
        "ticket_id text, service text, type text, priority text, outcome text, "
        "opened_at ms, completed_at ms, body jsonb",
        [
            (
                life.ticket_id,
                life.service,
                life.type,
                life.priority,
                life.outcome,
                life.opened_ms,
                life.completed_ms,
                orjson.dumps(_life_body(life)).decode(),
            )
            for life in (after[t] for t in ids)
        ],
        "ON CONFLICT (ticket_id) DO UPDATE SET service = EXCLUDED.service, "
        "type = EXCLUDED.type, priority = EXCLUDED.priority, outcome = EXCLUDED.outcome, "
        "opened_at = EXCLUDED.opened_at, completed_at = EXCLUDED.completed_at, "
        "body = EXCLUDED.body",
    )
    summed: dict[store_days.TicketKey, list[int]] = {}
    for d in deltas:
        acc = summed.setdefault((d.service, d.day, d.kind, d.priority), [0, 0])
        acc[0] += d.count
        acc[1] += d.failed
    await store_days.add(conn, s, totals, ticket={k: v for k, v in summed.items() if v[0] or v[1]})


# ---- signals ------------------------------------------------------------------------------


async def apply_signals(conn: AsyncConnection, schema: str, signals: list[Signal]) -> None:
    s = q(schema)
    await insert_rows(
        conn,
        f"{s}.signals",
        "signal_id text, kind text, service text, metric text, ticket_id text, "
        "occurred_at timestamptz, body jsonb",
        [
            (
                x.signal_id,
                x.kind,
                x.service,
                x.metric,
                x.ticket_id,
                x.occurred_at,
                orjson.dumps(x.model_dump(mode="json")).decode(),
            )
            for x in signals
        ],
        "ON CONFLICT DO NOTHING",
    )
    await insert_rows(
        conn,
        f"{s}.retractions",
        "signal_id text, retracted_by text",
        [(x.retracts, x.signal_id) for x in signals if x.retracts],
        "ON CONFLICT DO NOTHING",
    )
