"""The sla_engine.signals table: signals recorded under their ids (a signal is emitted at most
once, ever), which of them stand and which were retracted."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from sla_engine.clocks.store import OPEN_TICKETS

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


_INSERT_SIGNALS = (
    "INSERT INTO sla_engine.signals (signal_id, kind, service, ticket_id, metric, "
    "threshold, occurred_at, detected_at, episode, body) "
    "SELECT id, kind, service, ticket_id, metric, threshold, CAST(occurred AS timestamptz), "
    "CAST(detected AS timestamptz), episode, CAST(body AS jsonb) FROM unnest("
    "CAST(:ids AS text[]), CAST(:kinds AS text[]), CAST(:services AS text[]), "
    "CAST(:tickets AS text[]), CAST(:metrics AS text[]), CAST(:thresholds AS float8[]), "
    "CAST(:occurred AS text[]), CAST(:detected AS text[]), CAST(:episodes AS int[]), "
    "CAST(:bodies AS text[])) AS s(id, kind, service, ticket_id, metric, threshold, occurred, "
    "detected, episode, body) "
    "ON CONFLICT DO NOTHING RETURNING signal_id"
)


async def insert_signals(
    conn: AsyncConnection,
    *,
    bodies: list[dict[str, Any]],
    raws: list[bytes],
    keys: list[tuple[float | None, int]] | None = None,
) -> set[str]:
    """`record_signals` for bodies already serialised (`raws`, their JSON): the columns as
    arrays, so PostgreSQL parses each body once, as the jsonb it keeps."""
    if not bodies:
        return set()
    thresholds: list[float | None] = []
    episodes: list[int] = []
    for n, body in enumerate(bodies):
        key = None if keys is None else keys[n]
        thresholds.append(body["threshold"] if key is None or key[0] is None else key[0])
        episodes.append(1 if key is None else key[1])
    result = await conn.execute(
        sa.text(_INSERT_SIGNALS),
        {
            "ids": [b["signal_id"] for b in bodies],
            "kinds": [b["kind"] for b in bodies],
            "services": [b["service"] for b in bodies],
            "tickets": [b["ticket_id"] for b in bodies],
            "metrics": [b["metric"] for b in bodies],
            "thresholds": thresholds,
            "occurred": [b["occurred_at"] for b in bodies],
            "detected": [b["detected_at"] for b in bodies],
            "episodes": episodes,
            "bodies": [raw.decode() for raw in raws],
        },
    )
    return {r[0] for r in result}


async def mark_retracted(conn: AsyncConnection, *, signal_ids: list[str]) -> None:
    if signal_ids:
        await conn.execute(
            sa.text("UPDATE sla_engine.signals SET retracted = true WHERE signal_id = ANY(:ids)"),
            {"ids": signal_ids},
        )
