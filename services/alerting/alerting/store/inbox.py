"""The inbox: the signals alerting received, one row per signal id, kept for the record; a
signal whose id is there was applied already (so none applies twice)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from alerting.domain.alerts import signal_body
from alerting.store.sql import jsonb, recordset
from pacta.db import driver_connection
from pacta.events import Signal

# the received signals are the inbox: one statement records them and says which are new (the
# `inbox` table of migration 0001 held the same ids, written in the same transaction; it is
# no longer written, and every id it holds is here too)
_CLAIM = (
    "WITH claimed AS (INSERT INTO alerting.signals (signal_id, kind, service, occurred_at, "
    "body) SELECT id, kind, service, occurred_at, body FROM "
    + recordset("id text, kind text, service text, occurred_at timestamptz, body jsonb")
    + " ORDER BY ord ON CONFLICT DO NOTHING RETURNING signal_id) "
    "SELECT array_agg(signal_id) FROM claimed"
)


async def claim(conn: AsyncConnection, *, signals: Sequence[Signal]) -> set[str]:
    """The ids of these signals never received before: recorded now (the first of an id given
    twice), in the caller's transaction, the one that applies them."""
    if not signals:
        return set()
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
    claimed = await (await driver_connection(conn)).fetchval(_CLAIM, jsonb(rows))
    return set(claimed or ())
