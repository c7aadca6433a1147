"""The ingest schema: event ids already acknowledged, so a retry is answered as a duplicate.

The claim of a cycle's ids is one autocommit statement on a plain asyncpg pool (one round trip,
no transaction to open and close): it runs once Kafka holds the records, before the 202.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

SCHEMA = "ingest"
_CLAIM = (
    "INSERT INTO ingest.seen_events (event_id) SELECT unnest($1::text[]) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)


async def create_claim_pool(url: str, size: int) -> Any:
    """An asyncpg pool for the claims, from the service's SQLAlchemy database URL."""
    parsed = sa.make_url(url).set(drivername="postgresql")
    ssl: object = None
    if parsed.host in ("127.0.0.1", "localhost", "::1") and not (
        {"ssl", "sslmode"} & set(parsed.query)
    ):
        ssl = False  # as pacta.db.create_engine: no TLS on loopback
    return await asyncpg.create_pool(
        parsed.render_as_string(hide_password=False),
        min_size=1,
        max_size=size,
        ssl=ssl,
        timeout=10,
    )


async def claim_ids(pool: Any, *, ids: list[str]) -> set[str]:
    """Insert the ids; return those not seen before. Concurrent claims of one id serialise on
    the primary key, so exactly one request (of any process) wins it."""
    rows = await pool.fetch(_CLAIM, ids)
    return {r[0] for r in rows}


async def prune(conn: AsyncConnection, *, older_than_days: int) -> int:
    result = await conn.execute(
        sa.text("DELETE FROM ingest.seen_events WHERE seen_at < now() - make_interval(days => :d)"),
        {"d": older_than_days},
    )
    return int(result.rowcount or 0)
