"""The sla_engine schema: the inbox and the journal of ticket and monitoring events."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from pacta.events import MonitoringEvent, TicketEvent
from sqlalchemy.ext.asyncio import AsyncConnection

SCHEMA = "sla_engine"


async def journal_tickets(conn: AsyncConnection, *, events: list[TicketEvent]) -> None:
    if events:
        await conn.execute(
            sa.text(
                "INSERT INTO sla_engine.ticket_events (event_id, ticket_id, occurred_at, body) "
                "VALUES (:id, :ticket_id, :occurred_at, CAST(:body AS jsonb)) ON CONFLICT DO NOTHING"
            ),
            [_row(e, ticket_id=e.ticket_id) for e in events],
        )


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
)


async def save_clocks(conn: AsyncConnection, *, rows: list[dict[str, Any]]) -> None:
    """Upsert clock snapshots; an older snapshot never overwrites a newer one."""
    if not rows:
        return
    cols = ", ".join(_CLOCK_COLUMNS)
    values = ", ".join(
        "CAST(:labels AS jsonb)" if c == "labels" else f":{c}" for c in _CLOCK_COLUMNS
    )
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _CLOCK_COLUMNS[2:])
    await conn.execute(
        sa.text(
            f"INSERT INTO sla_engine.clocks ({cols}) VALUES ({values}) "
            f"ON CONFLICT (ticket_id, metric) DO UPDATE SET {updates} "
            "WHERE sla_engine.clocks.version <= EXCLUDED.version"
        ),
        rows,
    )


async def load_open_clocks(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Every clock of a ticket that still has an open clock (what the timers need)."""
    result = await conn.execute(
        sa.text(
            "SELECT * FROM sla_engine.clocks WHERE ticket_id IN "
            "(SELECT ticket_id FROM sla_engine.clocks WHERE stopped_at_ms IS NULL) "
            "ORDER BY ticket_id"
        )
    )
    return [dict(r._mapping) for r in result]


async def load_clocks(conn: AsyncConnection, *, ticket_ids: list[str]) -> list[dict[str, Any]]:
    result = await conn.execute(
        sa.text("SELECT * FROM sla_engine.clocks WHERE ticket_id = ANY(:ids)"), {"ids": ticket_ids}
    )
    return [dict(r._mapping) for r in result]


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


async def standing_signals(
    conn: AsyncConnection, *, ticket_ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Signals emitted per ticket and not retracted (what a replay is diffed against)."""
    result = await conn.execute(
        sa.text(
            "SELECT ticket_id, body FROM sla_engine.signals WHERE ticket_id = ANY(:ids) "
            "AND NOT retracted AND kind IN ('warning', 'breach', 'met')"
        ),
        {"ids": ticket_ids},
    )
    out: dict[str, list[dict[str, Any]]] = {t: [] for t in ticket_ids}
    for ticket_id, body in result:
        out[ticket_id].append(body)
    return out


async def record_signals(conn: AsyncConnection, *, signals: list[dict[str, Any]]) -> set[str]:
    """Insert signals; return the ids that are new (a signal is emitted at most once, ever)."""
    if not signals:
        return set()
    result = await conn.execute(
        sa.text(
            "INSERT INTO sla_engine.signals "
            "(signal_id, kind, service, ticket_id, metric, threshold, occurred_at, detected_at, body) "
            "SELECT s->>'signal_id', s->>'kind', s->>'service', s->>'ticket_id', s->>'metric', "
            "(s->>'threshold')::float, (s->>'occurred_at')::timestamptz, "
            "(s->>'detected_at')::timestamptz, s "
            "FROM jsonb_array_elements(CAST(:signals AS jsonb)) AS s "
            "ON CONFLICT DO NOTHING RETURNING signal_id"
        ),
        {"signals": orjson.dumps(signals).decode()},
    )
    return {r[0] for r in result}


async def mark_retracted(conn: AsyncConnection, *, signal_ids: list[str]) -> None:
    if signal_ids:
        await conn.execute(
            sa.text("UPDATE sla_engine.signals SET retracted = true WHERE signal_id = ANY(:ids)"),
            {"ids": signal_ids},
        )
