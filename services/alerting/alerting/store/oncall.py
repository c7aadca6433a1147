"""On-call users (the receivers that reach each person) and schedules, as stored bodies."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from alerting.store.sql import jsonb

Table = Literal["oncall_users", "schedules"]
_COLUMN = {"oncall_users": "receivers", "schedules": "body"}


async def put(conn: AsyncConnection, *, table: Table, name: str, body: Any) -> bool:
    """Insert or replace one user's receivers or one schedule's body; True if it is new."""
    column = _COLUMN[table]
    row = await conn.execute(
        sa.text(
            f"INSERT INTO alerting.{table} (name, {column}) VALUES (:name, CAST(:body AS jsonb)) "
            f"ON CONFLICT (name) DO UPDATE SET {column} = EXCLUDED.{column}, updated_at = now() "
            "RETURNING (xmax = 0)"
        ),
        {"name": name, "body": jsonb(body)},
    )
    return bool(row.scalar())


async def delete(conn: AsyncConnection, *, table: Table, name: str) -> bool:
    """Delete one user or schedule; True if it existed."""
    row = await conn.execute(
        sa.text(f"DELETE FROM alerting.{table} WHERE name = :name RETURNING 1"), {"name": name}
    )
    return row.first() is not None


async def load_all(conn: AsyncConnection, *, table: Table) -> dict[str, Any]:
    """Every user's receivers, or every schedule's body, by name."""
    rows = await conn.execute(sa.text(f"SELECT name, {_COLUMN[table]} AS v FROM alerting.{table}"))
    return {str(r.name): r.v for r in rows}
