"""The reporting schema, write side: each record kind folded into the read model, the daily
aggregates moved by the difference each record makes. Every function takes the schema, so a
rebuild writes into a fresh one with the same code."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.durations import ms_to_datetime, parse_timestamp_ms
from pacta.events import Signal
from reporting.domain.availability import fact_view, parse_fact
from reporting.domain.ticket_life import TicketEventView, TicketLife, merge, ticket_delta
from reporting.domain.tickets import ClockOutcome, clock_delta, sum_days
from reporting.domain.version_counts import sum_version_days, version_delta

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
    return None if text is None else parse_timestamp_ms(text)


async def _insert_rows(
    conn: AsyncConnection, table: str, columns: str, rows: list[dict[str, Any]], tail: str
) -> None:
    """One multi-row statement for the batch: the rows travel as one JSON array and
    jsonb_to_recordset types them (`columns` is "name type, ..." in the row dicts' keys), which
    costs PostgreSQL and the driver one statement instead of one per row."""
    if not rows:
        return
    names = ", ".join(c.split()[0] for c in columns.split(", "))
    await conn.execute(
        sa.text(
            f"INSERT INTO {table} AS t ({names}) SELECT {names} FROM "
            f"jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({columns}) {tail}"
        ),
        {"rows": orjson.dumps(rows).decode()},
    )


async def add_services(conn: AsyncConnection, schema: str, names: Iterable[str]) -> None:
    rows = [{"service": n} for n in sorted(set(names))]
    await _insert_rows(
        conn, f"{q(schema)}.services", "service text", rows, "ON CONFLICT DO NOTHING"
    )


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
    "version bigint, elapsed_ms bigint, target_ms bigint, started_at timestamptz, "
    "stopped_at timestamptz, breached_at timestamptz, deadline timestamptz, "
    "outcome_at timestamptz, body jsonb, policy_version bigint"
)


async def apply_clock_facts(conn: AsyncConnection, schema: str, facts: list[dict[str, Any]]) -> int:
    """Keep each clock's newest fact (by version); returns how many clocks changed."""
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for fact in facts:
        key = (fact["ticket_id"], fact["metric"])
        if key not in newest or int(fact["version"]) > int(newest[key]["version"]):
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
    upserts, deltas, by_version = [], [], []
    for key, fact in newest.items():
        before = old.get(key)
        if before is not None and int(before["version"]) >= int(fact["version"]):
            continue  # an older or the same version: already counted
        new = clock_outcome(fact)
        prior = None if before is None else clock_outcome(before)
        deltas += clock_delta(prior, new)
        by_version += version_delta(prior, new)
        upserts.append(
            {
                "ticket_id": new.ticket_id,
                "metric": new.metric,
                "service": new.service,
                "policy": fact.get("policy"),
                "priority": new.priority,
                "state": new.state,
                "version": new.version,
                "elapsed_ms": new.elapsed_ms,
                "target_ms": None
                if fact.get("target_seconds") is None
                else round(float(fact["target_seconds"]) * 1000),
                "started_at": _ts(_ms(fact.get("started_at"))),
                "stopped_at": _ts(new.stopped_ms),
                "breached_at": _ts(new.breached_ms),
                "deadline": _ts(new.deadline_ms),
                "outcome_at": _ts(new.outcome_ms),
                "body": fact,
                "policy_version": new.policy_version,
            }
        )
    sets = ", ".join(
        f"{c.split()[0]} = EXCLUDED.{c.split()[0]}" for c in _CLOCK_COLUMNS.split(", ")[2:]
    )
    await _insert_rows(
        conn,
        f"{s}.clocks",
        _CLOCK_COLUMNS,
        upserts,
        f"ON CONFLICT (ticket_id, metric) DO UPDATE SET {sets}",
    )
    policies = sorted({(u["service"], u["policy"]) for u in upserts if u["policy"] is not None})
    if policies:
        await conn.execute(
            sa.text(
                f"UPDATE {s}.services SET ticket_policy = "
                "LEAST(coalesce(ticket_policy, :p), :p) WHERE service = :s"
            ),
            [{"s": svc, "p": p} for svc, p in policies],
        )
    changed = [
        d for d in sum_days(deltas).values() if d.met or d.breached or d.stopped or d.elapsed_ms
    ]
    await _insert_rows(
        conn,
        f"{s}.clock_days",
        "service text, day date, metric text, priority text, met bigint, breached bigint, "
        "stopped bigint, elapsed_ms bigint",
        [
            {
                "service": d.service,
                "day": d.day,
                "metric": d.metric,
                "priority": d.priority,
                "met": d.met,
                "breached": d.breached,
                "stopped": d.stopped,
                "elapsed_ms": d.elapsed_ms,
            }
            for d in changed
        ],
        "ON CONFLICT (service, day, metric, priority) DO UPDATE SET "
        "met = t.met + EXCLUDED.met, breached = t.breached + EXCLUDED.breached, "
        "stopped = t.stopped + EXCLUDED.stopped, elapsed_ms = t.elapsed_ms + EXCLUDED.elapsed_ms",
    )
    await _insert_rows(
        conn,
        f"{s}.clock_version_days",
        "service text, day date, metric text, policy text, policy_version bigint, met bigint, "
        "breached bigint",
        [
            {
                "service": d.service,
                "day": d.day,
                "metric": d.metric,
                "policy": d.policy,
                "policy_version": d.policy_version,
                "met": d.met,
                "breached": d.breached,
            }
            for d in sum_version_days(by_version)
        ],
        "ON CONFLICT (service, day, metric, policy, policy_version) DO UPDATE SET "
        "met = t.met + EXCLUDED.met, breached = t.breached + EXCLUDED.breached",
    )
    return len(upserts)


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
            {
                "service": view.service,
                "month": view.month,
                "version": view.version,
                "month_start": ms_to_datetime(view.month_start_ms),
                "month_end": ms_to_datetime(view.month_end_ms),
                "body": fact,
                "view": fact_view(view),
            }
        )
    await _insert_rows(
        conn,
        f"{q(schema)}.availability",
        "service text, month text, version bigint, month_start timestamptz, "
        "month_end timestamptz, body jsonb, view jsonb",
        rows,
        "ON CONFLICT (service, month) DO UPDATE SET version = EXCLUDED.version, "
        "month_start = EXCLUDED.month_start, month_end = EXCLUDED.month_end, "
        "body = EXCLUDED.body, view = EXCLUDED.view WHERE t.version < EXCLUDED.version",
    )


# ---- tickets ------------------------------------------------------------------------------


def _life_body(life: TicketLife) -> dict[str, Any]:
    return {k: getattr(life, k) for k in TicketLife.__dataclass_fields__}


def _life(body: dict[str, Any]) -> TicketLife:
    fields = dict(body)
    for stamp in ("latest", "priority_at", "outcome_at"):
        if fields.get(stamp) is not None:
            fields[stamp] = (int(fields[stamp][0]), str(fields[stamp][1]))
    return TicketLife(**fields)


async def apply_ticket_events(
    conn: AsyncConnection, schema: str, events: list[TicketEventView]
) -> None:
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
    await _insert_rows(
        conn,
        f"{s}.tickets",
        "ticket_id text, service text, type text, priority text, outcome text, "
        "opened_at timestamptz, completed_at timestamptz, body jsonb",
        [
            {
                "ticket_id": life.ticket_id,
                "service": life.service,
                "type": life.type,
                "priority": life.priority,
                "outcome": life.outcome,
                "opened_at": ms_to_datetime(life.opened_ms),
                "completed_at": _ts(life.completed_ms),
                "body": _life_body(life),
            }
            for life in (after[t] for t in ids)
        ],
        "ON CONFLICT (ticket_id) DO UPDATE SET service = EXCLUDED.service, "
        "type = EXCLUDED.type, priority = EXCLUDED.priority, outcome = EXCLUDED.outcome, "
        "opened_at = EXCLUDED.opened_at, completed_at = EXCLUDED.completed_at, "
        "body = EXCLUDED.body",
    )
    summed: dict[tuple[Any, ...], list[int]] = {}
    for d in deltas:
        acc = summed.setdefault((d.service, d.day, d.kind, d.priority), [0, 0])
        acc[0] += d.count
        acc[1] += d.failed
    await _insert_rows(
        conn,
        f"{s}.ticket_days",
        "service text, day date, kind text, priority text, count bigint, failed bigint",
        [
            {"service": k[0], "day": k[1], "kind": k[2], "priority": k[3], "count": c, "failed": f}
            for k, (c, f) in summed.items()
            if c or f
        ],
        "ON CONFLICT (service, day, kind, priority) DO UPDATE SET "
        "count = t.count + EXCLUDED.count, failed = t.failed + EXCLUDED.failed",
    )


# ---- signals ------------------------------------------------------------------------------


async def apply_signals(conn: AsyncConnection, schema: str, signals: list[Signal]) -> None:
    s = q(schema)
    await _insert_rows(
        conn,
        f"{s}.signals",
        "signal_id text, kind text, service text, metric text, ticket_id text, "
        "occurred_at timestamptz, body jsonb",
        [
            {
                "signal_id": x.signal_id,
                "kind": x.kind,
                "service": x.service,
                "metric": x.metric,
                "ticket_id": x.ticket_id,
                "occurred_at": x.occurred_at,
                "body": x.model_dump(mode="json"),
            }
            for x in signals
        ],
        "ON CONFLICT DO NOTHING",
    )
    await _insert_rows(
        conn,
        f"{s}.retractions",
        "signal_id text, retracted_by text",
        [{"signal_id": x.retracts, "retracted_by": x.signal_id} for x in signals if x.retracts],
        "ON CONFLICT DO NOTHING",
    )
