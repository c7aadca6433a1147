"""The tables both halves of the engine share: the event journal and the signals; the schema's
name (`SCHEMA`) and the raw driver connection bulk reads use."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

SCHEMA = "sla_engine"


async def driver_connection(conn: AsyncConnection) -> Any:
    """The asyncpg connection under `conn` (nothing may run on `conn` meanwhile), inside
    `conn`'s transaction when it has begun one: SQLAlchemy's asyncpg dialect sends BEGIN only
    before the first statement it runs itself, so a first statement run on the driver would
    otherwise commit on its own (the relay's delete, before Kafka acknowledged the records)."""
    raw = await conn.get_raw_connection()
    adapted: Any = raw.dbapi_connection
    if conn.in_transaction() and getattr(adapted, "_transaction", None) is None:
        await adapted._start_transaction()
    return raw.driver_connection
