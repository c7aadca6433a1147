"""The sla_engine schema: the inbox and the journal of ticket and monitoring events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.events import MonitoringEvent, TicketEvent

SCHEMA = "sla_engine"


async def journal_tickets(
    conn: AsyncConnection, *, events: list[TicketEvent]
) -> list[dict[str, Any]]:
    """Journal the events; returns their bodies as journaled, in the same order (what a
    replay of a ticket with no earlier events reads instead of the journal)."""
    if not events:
        return []
    bodies = [e.model_dump(mode="json") for e in events]
    await conn.execute(
        sa.text(
            "INSERT INTO sla_engine.ticket_events (event_id, ticket_id, occurred_at, body) "
            "VALUES (:id, :ticket_id, :occurred_at, CAST(:body AS jsonb)) ON CONFLICT DO NOTHING"
        ),
        [
            {
                "id": e.id,
                "ticket_id": e.ticket_id,
                "occurred_at": e.occurred_at,
                "body": orjson.dumps(body).decode(),
            }
            for e, body in zip(events, bodies, strict=True)
        ],
    )
    return bodies


async def journaled_before(
    conn: AsyncConnection, *, ticket_ids: list[str], except_ids: list[str]
) -> set[str]:
    """The tickets among these with journal events other than `except_ids` (this batch's)."""
    if not ticket_ids:
        return set()
    result = await conn.execute(
        sa.text(
            # NOT IN over a subquery is hashed; `<> ALL(:except)` scanned the whole array for
            # every journal row (a quarter of a second for a batch of 5,000)
            "SELECT DISTINCT ticket_id FROM sla_engine.ticket_events "
            "WHERE ticket_id = ANY(:ids) AND event_id NOT IN (SELECT unnest(CAST(:except AS text[])))"
        ),
        {"ids": ticket_ids, "except": except_ids},
    )
    return {r[0] for r in result}


async def journal_monitoring(conn: AsyncConnection, *, events: list[MonitoringEvent]) -> None:
    if events:
        await conn.execute(
            sa.text(
                "INSERT INTO sla_engine.monitoring_events "
                "(event_id, service, check_name, occurred_at, body) "
                "VALUES (:id, :service, :check, :occurred_at, CAST(:body AS jsonb)) "
                "ON CONFLICT DO NOTHING"
            ),
            [_row(e, service=e.service, check=e.check) for e in events],
        )


def _row(event: MonitoringEvent | TicketEvent, **extra: Any) -> dict[str, Any]:
    return {
        "id": event.id,
        "occurred_at": event.occurred_at,
        "body": orjson.dumps(event.model_dump(mode="json")).decode(),
        **extra,
    }


# ---- clocks and signals -------------------------------------------------------------------

_CLOCK_COLUMNS = (
    "ticket_id",
    "metric",
    "service",
    "customer",
    "ticket_type",
    "policy",
    "calendar",
    "priority",
    "target_ms",
    "warn_at",
    "started_at_ms",
    "as_of_ms",
    "elapsed_ms",
    "paused",
    "stopped_at_ms",
    "breached_at_ms",
    "met_signalled",
    "fired",
    "last_event_ms",
    "state",
    "deadline_at",
    "labels",
    "version",
    "episode",
    "breach_episode",
    "policy_version",
    "calendar_version",
)


_CLOCK_TYPES = {
    "ticket_id": "text",
    "metric": "text",
    "service": "text",
    "customer": "text",
    "ticket_type": "text",
    "policy": "text",
    "calendar": "text",
    "priority": "text",
    "target_ms": "bigint",
    "warn_at": "float8[]",
    "started_at_ms": "bigint",
    "as_of_ms": "bigint",
    "elapsed_ms": "bigint",
    "paused": "boolean",
    "stopped_at_ms": "bigint",
    "breached_at_ms": "bigint",
    "met_signalled": "boolean",
    "fired": "float8[]",
    "last_event_ms": "bigint",
    "state": "text",
    "deadline_at": "timestamptz",
    "labels": "text",  # the JSON text of the labels
    "version": "bigint",
    "episode": "integer",
    "breach_episode": "integer",
    "policy_version": "integer",
    "calendar_version": "integer",
}
assert tuple(_CLOCK_TYPES) == _CLOCK_COLUMNS


def _save_clocks_sql() -> str:
    cols = ", ".join(_CLOCK_COLUMNS)
    values = ", ".join("r.labels::jsonb" if c == "labels" else f"r.{c}" for c in _CLOCK_COLUMNS)
    record = ", ".join(f"{c} {t}" for c, t in _CLOCK_TYPES.items())
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _CLOCK_COLUMNS[2:])
    return (
        f"INSERT INTO sla_engine.clocks ({cols}) SELECT {values} "
        f"FROM json_to_recordset(CAST(:rows AS json)) AS r({record}) "
        f"ON CONFLICT (ticket_id, metric) DO UPDATE SET {updates} "
        "WHERE sla_engine.clocks.version <= EXCLUDED.version"
    )


_SAVE_CLOCKS = _save_clocks_sql()


async def save_clocks(conn: AsyncConnection, *, rows: list[dict[str, Any]]) -> None:
    """Upsert clock snapshots; an older snapshot never overwrites a newer one.

    One statement for the whole batch, the rows as one JSON document (a per-row statement
    costs the engine's one thread more than the database); should a clock appear twice, the
    later row is the one written, as one upsert after the other would leave it."""
    if not rows:
        return
    latest = {(r["ticket_id"], r["metric"]): r for r in rows}
    await conn.execute(
        sa.text(_SAVE_CLOCKS),
        {"rows": orjson.dumps(list(latest.values())).decode()},
    )


# Restoring a million open clocks: raw asyncpg, only the columns the keeper needs, labels as
# text (decoded by the caller only when not empty), streamed in chunks under one snapshot so
# that no list of a million row dicts is ever held.

_OPEN_COLUMNS = (
    "ticket_id, metric, service, customer, ticket_type, policy, priority, target_ms, warn_at, "
    "started_at_ms, as_of_ms, elapsed_ms, paused, stopped_at_ms, breached_at_ms, "
    "met_signalled, fired, last_event_ms, labels::text AS labels, version, episode, "
    "breach_episode, policy_version, calendar_version"
)
OPEN_TICKETS = "SELECT ticket_id FROM sla_engine.clocks WHERE stopped_at_ms IS NULL"


async def driver_connection(conn: AsyncConnection) -> Any:
    """The asyncpg connection under `conn` (nothing may run on `conn` meanwhile)."""
    raw = await conn.get_raw_connection()
    return raw.driver_connection


async def open_ticket_ids(raw: Any) -> list[str]:
    """Tickets that have an open clock (run inside the caller's snapshot)."""
    ids = await raw.fetchval(f"SELECT array_agg(DISTINCT ticket_id) FROM ({OPEN_TICKETS}) o")
    return list(ids or ())


async def stream_open_clocks(
    raw: Any, *, ticket_ids: list[str] | None, chunk: int = 20_000
) -> AsyncIterator[list[Any]]:
    """Every clock of the given tickets (None: of every ticket with an open clock), as chunks
    of asyncpg records; `raw` must be inside a transaction (a cursor needs one)."""
    if ticket_ids is None:
        query = f"SELECT {_OPEN_COLUMNS} FROM sla_engine.clocks WHERE ticket_id IN ({OPEN_TICKETS})"
        cursor = await raw.cursor(query)
    else:
        query = f"SELECT {_OPEN_COLUMNS} FROM sla_engine.clocks WHERE ticket_id = ANY($1::text[])"
        cursor = await raw.cursor(query, ticket_ids)
    while rows := await cursor.fetch(chunk):
        yield rows


async def clock_versions(conn: AsyncConnection, *, ticket_ids: list[str]) -> dict[str, int]:
    """The highest clock snapshot version of each ticket that has one."""
    if not ticket_ids:
        return {}
    result = await conn.execute(
        sa.text(
            "SELECT ticket_id, max(version) FROM sla_engine.clocks "
            "WHERE ticket_id = ANY(:ids) GROUP BY ticket_id"
        ),
        {"ids": ticket_ids},
    )
    return {r[0]: int(r[1]) for r in result}


async def query_clocks(
    conn: AsyncConnection,
    *,
    ticket_id: str | None,
    service: str | None,
    state: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, object] = {"limit": limit}
    for column, value in (("ticket_id", ticket_id), ("service", service), ("state", state)):
        if value is not None:
            clauses.append(f"{column} = :{column}")
            params[column] = value
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    result = await conn.execute(
        sa.text(f"SELECT * FROM sla_engine.clocks {where} ORDER BY ticket_id, metric LIMIT :limit"),
        params,
    )
    return [dict(r._mapping) for r in result]


async def ticket_logs(conn: AsyncConnection, *, ticket_ids: list[str]) -> dict[str, list[Any]]:
    """The journal of each ticket, oldest first."""
    result = await conn.execute(
        sa.text(
            "SELECT ticket_id, body FROM sla_engine.ticket_events WHERE ticket_id = ANY(:ids) "
            "ORDER BY ticket_id, occurred_at"
        ),
        {"ids": ticket_ids},
    )
    logs: dict[str, list[Any]] = {t: [] for t in ticket_ids}
    for ticket_id, body in result:
        logs[ticket_id].append(body)
    return logs


async def delete_clocks(
    conn: AsyncConnection, *, keep: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """Delete the clocks of these tickets other than the metrics kept (a policy was deleted:
    what it never measured to an end is no longer measured at all); the rows deleted."""
    if not keep:
        return []
    result = await conn.execute(
        sa.text(
            "DELETE FROM sla_engine.clocks c USING jsonb_each(CAST(:keep AS jsonb)) AS k "
            "WHERE c.ticket_id = k.key AND NOT (k.value ? c.metric) RETURNING c.*"
        ),
        {"keep": orjson.dumps(keep).decode()},
    )
    return [dict(r._mapping) for r in result]


async def unmeasured_tickets(
    conn: AsyncConnection, *, services: set[str] | None = None, since_ms: int | None = None
) -> dict[str, dict[str, Any]]:
    """Journaled tickets without clocks (no policy covered them) that are still open (their
    latest event neither resolves nor closes them) or had an event at or after `since_ms`,
    with their first event."""
    result = await conn.execute(
        sa.text(
            "SELECT ticket_id, first_body FROM ("
            "SELECT e.ticket_id, "
            "first_value(e.body) OVER w AS first_body, "
            "last_value(e.body->>'action') OVER w AS last_action, "
            "max(e.occurred_at) OVER w AS last_at, "
            "row_number() OVER (PARTITION BY e.ticket_id ORDER BY e.occurred_at) AS n "
            "FROM sla_engine.ticket_events e WHERE NOT EXISTS "
            "(SELECT 1 FROM sla_engine.clocks c WHERE c.ticket_id = e.ticket_id) "
            + ("" if services is None else "AND e.body->>'service' = ANY(:services) ")
            + "WINDOW w AS (PARTITION BY e.ticket_id ORDER BY e.occurred_at "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) t "
            "WHERE n = 1 AND (last_action NOT IN ('resolved', 'closed') "
            + (
                ")"
                if since_ms is None
                else "OR last_at >= to_timestamp(CAST(:since AS double precision) / 1000))"
            )
        ),
        {
            **({} if since_ms is None else {"since": since_ms}),
            **({} if services is None else {"services": sorted(services)}),
        },
    )
    return {ticket_id: body for ticket_id, body in result}


async def known_since(conn: AsyncConnection, *, ticket_ids: list[str]) -> dict[str, int]:
    """When the engine first journaled each ticket (epoch ms): which first policy versions
    count since always for it (`domain.timeline.as_known_by`)."""
    if not ticket_ids:
        return {}
    result = await conn.execute(
        sa.text(
            "SELECT ticket_id, (extract(epoch FROM min(journaled_at)) * 1000)::bigint "
            "FROM sla_engine.ticket_events WHERE ticket_id = ANY(:ids) GROUP BY ticket_id"
        ),
        {"ids": ticket_ids},
    )
    return {ticket_id: int(ms) for ticket_id, ms in result}


async def ended_since(
    conn: AsyncConnection, *, since_ms: int, services: set[str] | None = None
) -> list[str]:
    """Tickets with a clock that stopped at or after `since_ms` (a change effective then is
    replayed over what they measured from then on)."""
    result = await conn.execute(
        sa.text(
            "SELECT DISTINCT ticket_id FROM sla_engine.clocks WHERE stopped_at_ms >= :since"
            + ("" if services is None else " AND service = ANY(:services)")
        ),
        {"since": since_ms, **({} if services is None else {"services": sorted(services)})},
    )
    return [ticket_id for (ticket_id,) in result]
