"""The reporting schema: the journal every read model is derived from."""

from __future__ import annotations

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.events import MonitoringEvent, Signal, TicketEvent

SCHEMA = "reporting"
Item = MonitoringEvent | TicketEvent | Signal


def item_id(item: Item) -> str:
    return item.signal_id if isinstance(item, Signal) else str(item.id)


def item_kind(item: Item) -> str:
    if isinstance(item, Signal):
        return f"signal.{item.kind}"
    return "monitoring" if isinstance(item, MonitoringEvent) else "ticket"


async def journal(conn: AsyncConnection, *, items: list[Item]) -> None:
    if items:
        await conn.execute(
            sa.text(
                "INSERT INTO reporting.journal (event_id, kind, service, occurred_at, body) "
                "VALUES (:id, :kind, :service, :occurred_at, CAST(:body AS jsonb)) "
                "ON CONFLICT DO NOTHING"
            ),
            [
                {
                    "id": item_id(i),
                    "kind": item_kind(i),
                    "service": i.service,
                    "occurred_at": i.occurred_at,
                    "body": orjson.dumps(i.model_dump(mode="json")).decode(),
                }
                for i in items
            ],
        )
