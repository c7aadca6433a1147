"""The sla_engine.clocks table: clock snapshots upserted by version, streamed back at start-up
and on a rebalance, and read by the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from sla_engine.clocks.rows import ClockRow
from sla_engine.store import driver_connection

_CLOCK_COLUMNS = tuple(ClockRow.__dataclass_fields__)


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
assert tuple(_CLOCK_TYPES) == _CLOCK_COLUMNS, "ClockRow's fields and the column types differ"


def _save_clocks_sql() -> str:
    cols = ", ".join(_CLOCK_COLUMNS)
    values = ", ".join("r.labels::jsonb" if c == "labels" else f"r.{c}" for c in _CLOCK_COLUMNS)
    record = ", ".join(f"{c} {t}" for c, t in _CLOCK_TYPES.items())
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _CLOCK_COLUMNS[2:])
    return (
        # the rows given; $2 and $3 the tickets written and each one's new version
        f"WITH r AS (SELECT * FROM json_to_recordset(CAST($1 AS json)) AS r({record})), "
        # the tickets' stored rows, locked in key order (a concurrent writer waits for this
        # commit): one index scan for the whole array of tickets
        "held AS (SELECT c.ticket_id, c.version FROM sla_engine.clocks c "
        "WHERE c.ticket_id = ANY($2::text[]) ORDER BY c.ticket_id, c.metric FOR UPDATE), "
        "stale AS (SELECT h.ticket_id FROM held h "
        "JOIN unnest($2::text[], $3::bigint[]) AS w(ticket_id, v) USING (ticket_id) "
        "GROUP BY h.ticket_id, w.v HAVING max(h.version) <> w.v - 1), "
        # nothing is written if the fence failed for any of them
        f"up AS (INSERT INTO sla_engine.clocks ({cols}) SELECT {values} FROM r "
        "WHERE NOT EXISTS (SELECT 1 FROM stale) "
        f"ON CONFLICT (ticket_id, metric) DO UPDATE SET {updates} "
        "WHERE sla_engine.clocks.version < EXCLUDED.version RETURNING ticket_id) "
        # the stale tickets; those of a row not written (another writer inserted it since the
        # lock found none: its version is not older)
        "SELECT (SELECT array_agg(ticket_id ORDER BY ticket_id) FROM stale), "
        "CASE WHEN (SELECT count(*) FROM up) <> (SELECT count(*) FROM r) "
        "THEN ARRAY(SELECT ticket_id FROM r EXCEPT SELECT ticket_id FROM up ORDER BY 1) END"
    )


_SAVE_CLOCKS = _save_clocks_sql()


class ClockFenceError(Exception):
    """Another writer committed a snapshot of these tickets that this one did not build on:
    two instances both held them (one a zombie of a rebalance, or killed and back at once).
    The transaction must roll back and the tickets be read again from PostgreSQL."""

    def __init__(self, ticket_ids: list[str]) -> None:
        super().__init__(f"clock snapshots written meanwhile by another writer: {ticket_ids[:10]}")
        self.ticket_ids = ticket_ids


async def save_clocks(conn: AsyncConnection, *, rows: list[ClockRow]) -> None:
    """Upsert clock snapshots, fenced: a ticket's snapshot version n is written only over its
    version n - 1 (or over none), so that two instances that both hold a ticket cannot both
    write one version, nor one overwrite what the other wrote with state it never saw. The
    ticket's rows are locked first (a concurrent writer waits for this commit, then fails);
    should the fence fail, `ClockFenceError` is raised and nothing is written.

    One statement for the whole batch, lock, check and upsert (one round trip), the rows as one JSON document (a per-row statement
    costs the engine's one thread more than the database); should a clock appear twice, the
    later row is the one written, as one upsert after the other would leave it."""
    if not rows:
        return
    latest = {(r.ticket_id, r.metric): r for r in rows}
    versions: dict[str, int] = {}
    for row in latest.values():
        if row.version > versions.get(row.ticket_id, 0):
            versions[row.ticket_id] = row.version
    # on the driver: every consumed batch runs it, SQLAlchemy's execute costs more than a small
    # batch's statement itself
    raw = await driver_connection(conn)
    stale, unwritten = await raw.fetchrow(
        _SAVE_CLOCKS,
        orjson.dumps(list(latest.values())).decode(),
        list(versions),
        list(versions.values()),
    )
    if stale:
        raise ClockFenceError(list(stale))
    if unwritten is not None:
        # a ticket new to the table, inserted by another writer since the lock found no row
        raise ClockFenceError(list(unwritten))


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
) -> list[ClockRow]:
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
    return [ClockRow.of_stored(r._mapping) for r in result]


async def delete_clocks(conn: AsyncConnection, *, keep: dict[str, list[str]]) -> list[ClockRow]:
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
    return [ClockRow.of_stored(r._mapping) for r in result]


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
