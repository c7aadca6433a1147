"""The inbox: which signal ids were applied already (so none applies twice), and the signals
alerting received, kept for the record."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from alerting.domain.alerts import signal_body
from alerting.store.sql import SCHEMA, jsonb, recordset
from pacta.db import claim_events
from pacta.events import Signal

_RECORD = sa.text(
    "INSERT INTO alerting.signals (signal_id, kind, service, occurred_at, body) "
    "SELECT id, kind, service, occurred_at, body FROM "
    + recordset("id text, kind text, service text, occurred_at timestamptz, body jsonb")
    + " ORDER BY ord ON CONFLICT DO NOTHING"
)


async def claim(conn: AsyncConnection, *, signal_ids: Sequence[str]) -> set[str]:
    """The ids among these not claimed before; claimed now, in the caller's transaction."""
    return await claim_events(conn, SCHEMA, list(signal_ids))


async def record_signals(conn: AsyncConnection, *, signals: Sequence[Signal]) -> None:
    if not signals:
        return
    rows = [
        {
            "id": s.signal_id,
            "kind": s.kind,
            "service": s.service,
            "occurred_at": s.occurred_at,
            "body": signal_body(s),
        }
        for s in signals
    ]
    await conn.execute(_RECORD, {"rows": jsonb(rows)})
