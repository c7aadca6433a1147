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
