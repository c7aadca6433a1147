"""The sla_engine.signals table: signals recorded under their ids (a signal is emitted at most
once, ever), which of them stand and which were retracted."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from sla_engine.store import OPEN_TICKETS

_CLOCK_KINDS = "kind IN ('warning', 'breach', 'met', 'stopped')"
SignalKey = tuple[str, str, str, float, int]


async def standing_keys(raw: Any, *, ticket_ids: list[str] | None) -> list[SignalKey]:
    """(ticket_id, metric, kind, threshold, episode) of the clock signals emitted and not
    retracted, for the given tickets (None: every ticket with an open clock); the columns hold
    what the body holds (`record_signals` fills them from it)."""
    where = f"NOT retracted AND {_CLOCK_KINDS}"
    columns = "ticket_id, metric, kind, threshold, episode"
    if ticket_ids is None:
        rows = await raw.fetch(
            f"SELECT {columns} FROM sla_engine.signals "
            f"WHERE {where} AND ticket_id IN ({OPEN_TICKETS})"
        )
    else:
        rows = await raw.fetch(
            f"SELECT {columns} FROM sla_engine.signals "
            f"WHERE {where} AND ticket_id = ANY($1::text[])",
            ticket_ids,
        )
    return [(r[0], r[1], r[2], float(r[3]), int(r[4])) for r in rows]


async def retracted_counts(conn: AsyncConnection, *, ticket_ids: list[str]) -> dict[SignalKey, int]:
    """How often each clock condition of these tickets was signalled and then retracted (the
    next occurrence of it takes the next id)."""
    if not ticket_ids:
        return {}
    result = await conn.execute(
        sa.text(
            "SELECT ticket_id, metric, kind, threshold, episode, count(*) "
            f"FROM sla_engine.signals WHERE retracted AND {_CLOCK_KINDS} "
            "AND ticket_id = ANY(:ids) GROUP BY 1, 2, 3, 4, 5"
        ),
        {"ids": ticket_ids},
    )
    return {(r[0], r[1], r[2], float(r[3]), int(r[4])): int(r[5]) for r in result}


async def standing_signals(
    conn: AsyncConnection, *, ticket_ids: list[str]
) -> dict[str, dict[SignalKey, dict[str, Any]]]:
    """Clock signals emitted per ticket and not retracted, by key (what a replay is diffed
    against)."""
    result = await conn.execute(
        sa.text(
            "SELECT ticket_id, metric, kind, threshold, episode, body FROM sla_engine.signals "
            f"WHERE ticket_id = ANY(:ids) AND NOT retracted AND {_CLOCK_KINDS}"
        ),
        {"ids": ticket_ids},
    )
    out: dict[str, dict[SignalKey, dict[str, Any]]] = {t: {} for t in ticket_ids}
    for ticket_id, metric, kind, threshold, episode, body in result:
        out[ticket_id][(ticket_id, metric, kind, float(threshold), int(episode))] = body
    return out


async def record_signals(
    conn: AsyncConnection,
    *,
    signals: list[dict[str, Any]],
    keys: list[tuple[float | None, int]] | None = None,
) -> set[str]:
    """Insert signals; return the ids that are new (a signal is emitted at most once, ever).
    `keys` are the (threshold, episode) of each in its clock's terms (a `warn_before` mark is
    not the fraction the body shows); by default the body's threshold and episode 1."""
    if not signals:
        return set()
    rows = [
        {
            "s": body,
            "t": None if keys is None else keys[n][0],
            "e": 1 if keys is None else keys[n][1],
        }
        for n, body in enumerate(signals)
    ]
    result = await conn.execute(
        sa.text(
            "INSERT INTO sla_engine.signals (signal_id, kind, service, ticket_id, metric, "
            "threshold, occurred_at, detected_at, episode, body) "
            "SELECT r->'s'->>'signal_id', r->'s'->>'kind', r->'s'->>'service', "
            "r->'s'->>'ticket_id', r->'s'->>'metric', "
            "coalesce((r->>'t')::float, (r->'s'->>'threshold')::float), "
            "(r->'s'->>'occurred_at')::timestamptz, (r->'s'->>'detected_at')::timestamptz, "
            "(r->>'e')::int, r->'s' "
            "FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS r "
            "ON CONFLICT DO NOTHING RETURNING signal_id"
        ),
        {"rows": orjson.dumps(rows).decode()},
    )
    return {r[0] for r in result}


async def mark_retracted(conn: AsyncConnection, *, signal_ids: list[str]) -> None:
    if signal_ids:
        await conn.execute(
            sa.text("UPDATE sla_engine.signals SET retracted = true WHERE signal_id = ANY(:ids)"),
            {"ids": signal_ids},
        )
