"""The tables both halves of the engine share: the event journal and the signals; the schema's
name (`SCHEMA`) and the raw driver connection bulk reads use."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

SCHEMA = "sla_engine"


async def driver_connection(conn: AsyncConnection) -> Any:
    """The asyncpg connection under `conn` (nothing may run on `conn` meanwhile)."""
    raw = await conn.get_raw_connection()
    return raw.driver_connection
