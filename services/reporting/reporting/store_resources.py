"""The reporting schema's copies of the compacted topics: business calendars and policies with
their versions, by name (the newest record wins, so a replay in any order keeps it)."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from reporting.domain.versions import newest_version
from reporting.store import q


async def put_calendar(
    conn: AsyncConnection, schema: str, name: str, body: dict[str, Any] | None
) -> None:
    """The compacted calendars topic: the newest record of a name wins, a null deletes it."""
    if body is None:
        await conn.execute(
            sa.text(f"DELETE FROM {q(schema)}.calendars WHERE name = :n"), {"n": name}
        )
        return
    await conn.execute(
        sa.text(
            f"INSERT INTO {q(schema)}.calendars VALUES (:n, CAST(:b AS jsonb)) "
            "ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body"
        ),
        {"n": name, "b": orjson.dumps(body).decode()},
    )


async def put_policy(
    conn: AsyncConnection, schema: str, name: str, body: dict[str, Any] | None
) -> None:
    """The compacted policies topic. A record holds every version so far, so the one with the
    highest version is the newest whatever order records come in (a live consumer lagging
    behind a rebuild's replay cannot put an older history back). The engine keeps a deleted
    policy as a version; a null (tombstone) still removes the name."""
    if body is None:
        await conn.execute(
            sa.text(f"DELETE FROM {q(schema)}.policies WHERE name = :n"), {"n": name}
        )
        return
    await conn.execute(
        sa.text(
            f"INSERT INTO {q(schema)}.policies AS t VALUES (:n, :v, CAST(:b AS jsonb)) "
            "ON CONFLICT (name) DO UPDATE SET newest_version = EXCLUDED.newest_version, "
            "body = EXCLUDED.body WHERE t.newest_version <= EXCLUDED.newest_version"
        ),
        {"n": name, "v": newest_version(body), "b": orjson.dumps(body).decode()},
    )
