"""The alerting schema: signals received (alerts, routes and deliveries come with their issue)."""

from __future__ import annotations

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.events import Signal

SCHEMA = "alerting"


async def record_signals(conn: AsyncConnection, *, signals: list[Signal]) -> None:
    if signals:
        await conn.execute(
            sa.text(
                "INSERT INTO alerting.signals (signal_id, kind, service, occurred_at, body) "
                "VALUES (:id, :kind, :service, :occurred_at, CAST(:body AS jsonb)) "
                "ON CONFLICT DO NOTHING"
            ),
            [
                {
                    "id": s.signal_id,
                    "kind": s.kind,
                    "service": s.service,
                    "occurred_at": s.occurred_at,
                    "body": orjson.dumps(s.model_dump(mode="json")).decode(),
                }
                for s in signals
            ],
        )
