"""Silences as stored: their matchers and window, and the alerts each has matched (so an
expire_on_resolve silence knows when the last of them resolved)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from alerting.store.sql import build, jsonb


@dataclass(frozen=True)
class SilenceRow:
    id: str
    matchers: list[Any]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str
    expire_on_resolve: bool
    matched: tuple[str, ...] = field(default=())

    @classmethod
    def of(cls, row: Row[Any]) -> SilenceRow:
        return build(cls, row, matchers=list(row.matchers), matched=tuple(row.matched))


async def add(conn: AsyncConnection, *, silence: SilenceRow) -> None:
    await conn.execute(
        sa.text(
            "INSERT INTO alerting.silences (id, matchers, starts_at, ends_at, comment, created_by, "
            "expire_on_resolve) VALUES (:id, CAST(:matchers AS jsonb), :starts_at, :ends_at, "
            ":comment, :created_by, :expire_on_resolve)"
        ),
        {
            "id": silence.id,
            "matchers": jsonb(silence.matchers),
            "starts_at": silence.starts_at,
            "ends_at": silence.ends_at,
            "comment": silence.comment,
            "created_by": silence.created_by,
            "expire_on_resolve": silence.expire_on_resolve,
        },
    )


async def end(conn: AsyncConnection, *, ids: Sequence[str], at: datetime) -> list[str]:
    """End these silences at `at` (those not ended already); the ids that ended."""
    rows = await conn.execute(
        sa.text(
            "UPDATE alerting.silences SET ends_at = GREATEST(starts_at, :at) "
            "WHERE id = ANY(:ids) AND ends_at > :at RETURNING id"
        ),
        {"ids": list(ids), "at": at},
    )
    return [str(r.id) for r in rows]


async def note_matched(conn: AsyncConnection, *, pairs: Sequence[tuple[str, str]]) -> None:
    """(silence id, alert id) pairs: the silence held this alert back."""
    for silence_id, alert_id in pairs:
        await conn.execute(
            sa.text(
                "UPDATE alerting.silences SET matched = array_append(matched, :a) "
                "WHERE id = :id AND NOT (:a = ANY(matched))"
            ),
            {"id": silence_id, "a": alert_id},
        )


async def expire_on_resolve(
    conn: AsyncConnection, *, alert_ids: Sequence[str], at: datetime
) -> list[str]:
    """End the expire_on_resolve silences that matched one of these alerts once none of the
    alerts they matched is open any more."""
    rows = await conn.execute(
        sa.text(
            "UPDATE alerting.silences s SET ends_at = GREATEST(s.starts_at, :at) "
            "WHERE s.expire_on_resolve AND s.ends_at > :at AND s.matched && CAST(:a AS text[]) "
            "AND NOT EXISTS (SELECT 1 FROM alerting.alerts a WHERE a.id = ANY(s.matched) "
            "AND a.state <> 'resolved') RETURNING s.id"
        ),
        {"a": list(alert_ids), "at": at},
    )
    return [str(r.id) for r in rows]


async def listing(conn: AsyncConnection) -> list[SilenceRow]:
    """The newest 1,000 silences, newest first."""
    rows = await conn.execute(
        sa.text("SELECT * FROM alerting.silences ORDER BY created_at DESC LIMIT 1000")
    )
    return [SilenceRow.of(r) for r in rows]


async def get(conn: AsyncConnection, *, silence_id: str) -> SilenceRow | None:
    row = (
        await conn.execute(
            sa.text("SELECT * FROM alerting.silences WHERE id = :id"), {"id": silence_id}
        )
    ).first()
    return SilenceRow.of(row) if row is not None else None


async def in_force(conn: AsyncConnection) -> list[SilenceRow]:
    """Silences pending, active, or ended within the last minute (the live set)."""
    rows = await conn.execute(
        sa.text("SELECT * FROM alerting.silences WHERE ends_at > now() - interval '1 minute'")
    )
    return [SilenceRow.of(r) for r in rows]


async def delete_pending(conn: AsyncConnection, *, silence_id: str, at: datetime) -> bool:
    """Remove a silence that has not started by `at`; whether there was one."""
    rows = await conn.execute(
        sa.text("DELETE FROM alerting.silences WHERE id = :id AND starts_at > :at RETURNING id"),
        {"id": silence_id, "at": at},
    )
    return rows.first() is not None
