"""The ingest schema: event ids already acknowledged, so a retry is answered as a duplicate."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

SCHEMA = "ingest"


async def claim_ids(conn: AsyncConnection, *, ids: list[str]) -> set[str]:
    """Insert the ids; return those not seen before. Concurrent claims of one id serialise on
    the primary key, so exactly one request wins it."""
    rows = await conn.execute(
        sa.text(
            "INSERT INTO ingest.seen_events (event_id) SELECT unnest(CAST(:ids AS text[])) "
            "ON CONFLICT DO NOTHING RETURNING event_id"
        ),
        {"ids": ids},
    )
    return {r[0] for r in rows}


async def prune(conn: AsyncConnection, *, older_than_days: int) -> int:
    result = await conn.execute(
        sa.text("DELETE FROM ingest.seen_events WHERE seen_at < now() - make_interval(days => :d)"),
        {"d": older_than_days},
    )
    return int(result.rowcount or 0)
