"""Configuration resources (receivers, the routing tree, inhibit rules, escalation policies) as
stored bodies, and the key that signs acknowledge links."""

from __future__ import annotations

import secrets as random_secrets
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from alerting.store.sql import build, jsonb

Kind = Literal["receiver", "routes", "inhibit_rules", "escalation_policy"]
Origin = Literal["api", "file"]


@dataclass(frozen=True)
class ConfigRow:
    kind: str
    name: str
    body: Any
    origin: str

    @classmethod
    def of(cls, row: Row[Any]) -> ConfigRow:
        return build(cls, row)


async def put(
    conn: AsyncConnection, *, kind: Kind, name: str, body: Any, origin: Origin = "api"
) -> bool:
    """Insert or replace one resource; True if it is new."""
    row = await conn.execute(
        sa.text(
            "INSERT INTO alerting.config (kind, name, body, origin) "
            "VALUES (:kind, :name, CAST(:body AS jsonb), :origin) "
            "ON CONFLICT (kind, name) DO UPDATE SET body = EXCLUDED.body, "
            "origin = EXCLUDED.origin, updated_at = now() RETURNING (xmax = 0)"
        ),
        {"kind": kind, "name": name, "body": jsonb(body), "origin": origin},
    )
    return bool(row.scalar())


async def delete(conn: AsyncConnection, *, kind: Kind, name: str) -> bool:
    """Delete one resource; True if it existed."""
    row = await conn.execute(
        sa.text("DELETE FROM alerting.config WHERE kind = :kind AND name = :name RETURNING 1"),
        {"kind": kind, "name": name},
    )
    return row.first() is not None


async def names(conn: AsyncConnection, *, kind: Kind) -> set[str]:
    rows = await conn.execute(
        sa.text("SELECT name FROM alerting.config WHERE kind = :kind"), {"kind": kind}
    )
    return {str(r.name) for r in rows}


async def load_all(conn: AsyncConnection) -> list[ConfigRow]:
    rows = await conn.execute(sa.text("SELECT kind, name, body, origin FROM alerting.config"))
    return [ConfigRow.of(r) for r in rows]


async def link_secret(conn: AsyncConnection) -> bytes:
    """The key signing acknowledge links, made once and shared by every instance."""
    await conn.execute(
        sa.text(
            "INSERT INTO alerting.secrets (name, value) VALUES ('ack_links', :v) "
            "ON CONFLICT DO NOTHING"
        ),
        {"v": random_secrets.token_bytes(32)},
    )
    row = await conn.execute(sa.text("SELECT value FROM alerting.secrets WHERE name='ack_links'"))
    return bytes(row.scalar_one())


async def generation(conn: AsyncConnection) -> int:
    """The configuration's generation (bumped by trigger on every change of a configuration
    resource or a silence's window); inside a transaction that changed configuration, and so
    holds the counter's row, the generation of that change."""
    row = await conn.execute(sa.text("SELECT n FROM alerting.config_generation WHERE id = 1"))
    return int(row.scalar_one())
