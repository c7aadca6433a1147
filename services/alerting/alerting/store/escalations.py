"""Escalations as stored: one row per alert and route whose policy pages it, the next step due
and every receiver it reached (who hears the resolve)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from alerting.store.groups import RouteOptions
from alerting.store.sql import build, jsonb, recordset
from pacta.db import driver_connection
from pacta.durations import datetime_to_ms, ms_to_datetime


@dataclass(frozen=True)
class EscalationRow:
    alert_id: str
    route: str
    policy: str
    cycle: int
    step: int
    next_at_ms: int
    notified: tuple[str, ...]
    mute: tuple[str, ...]  # the route's time intervals hold its escalation too
    active: tuple[str, ...]
    started_at_ms: int | None  # counted from here (the firing, or entering the route)

    @classmethod
    def of(cls, row: Row[Any]) -> EscalationRow:
        options = row.options or {}
        started = options.get("started_at_ms")
        return build(
            cls,
            row,
            next_at_ms=datetime_to_ms(row.next_at),
            notified=tuple(row.notified),
            mute=tuple(options.get("mute", ())),
            active=tuple(options.get("active", ())),
            started_at_ms=int(started) if started is not None else None,
        )


class Arming(NamedTuple):
    """An escalation to start: the alert, its policy, the route's options, when it counts from
    and when its first step is due."""

    alert_id: str
    policy: str
    options: RouteOptions
    started_at_ms: int
    first_at_ms: int


_ARM = (
    "INSERT INTO alerting.escalations (alert_id, route, policy, cycle, step, next_at, options) "
    "SELECT a, r, p, 0, 0, at, o FROM "
    + recordset("a text, r text, p text, at timestamptz, o jsonb")
    + " ORDER BY ord ON CONFLICT DO NOTHING"
)


async def arm(conn: AsyncConnection, *, armings: Sequence[Arming]) -> None:
    """Start escalating each alert on its route (a no-op for one that is already), in the
    order given; one statement for all."""
    if armings:
        rows = [
            {
                "a": e.alert_id,
                "r": e.options.route,
                "p": e.policy,
                "at": ms_to_datetime(e.first_at_ms),
                "o": {**e.options.json(), "started_at_ms": e.started_at_ms},
            }
            for e in armings
        ]
        await (await driver_connection(conn)).execute(_ARM, jsonb(rows))


async def due(conn: AsyncConnection, *, now_ms: int, limit: int) -> list[EscalationRow]:
    """Active escalations with a step due, locked; those another transaction holds are
    skipped."""
    rows = await conn.execute(
        sa.text(
            "SELECT * FROM alerting.escalations WHERE active AND next_at <= :now "
            "ORDER BY next_at LIMIT :n FOR UPDATE SKIP LOCKED"
        ),
        {"now": ms_to_datetime(now_ms), "n": limit},
    )
    return [EscalationRow.of(r) for r in rows]


async def stop(
    conn: AsyncConnection, *, alert_id: str, route: str, notified: Sequence[str] | None = None
) -> None:
    """No more steps (the row stays, to send the resolve to whom it reached)."""
    if notified is None:
        await conn.execute(
            sa.text(
                "UPDATE alerting.escalations SET active = false WHERE alert_id = :a AND route = :r"
            ),
            {"a": alert_id, "r": route},
        )
        return
    await conn.execute(
        sa.text(
            "UPDATE alerting.escalations SET active = false, notified = :nt "
            "WHERE alert_id = :a AND route = :r"
        ),
        {"a": alert_id, "r": route, "nt": list(notified)},
    )


async def postpone(conn: AsyncConnection, *, alert_id: str, route: str, next_at_ms: int) -> None:
    await conn.execute(
        sa.text("UPDATE alerting.escalations SET next_at = :n WHERE alert_id = :a AND route = :r"),
        {"a": alert_id, "r": route, "n": ms_to_datetime(next_at_ms)},
    )


async def advance(
    conn: AsyncConnection,
    *,
    alert_id: str,
    route: str,
    cycle: int,
    step: int,
    next_at_ms: int,
    notified: Sequence[str],
) -> None:
    """The next step to run, and every receiver reached so far."""
    await conn.execute(
        sa.text(
            "UPDATE alerting.escalations SET cycle = :c, step = :s, next_at = :n, notified = :nt "
            "WHERE alert_id = :a AND route = :r"
        ),
        {
            "a": alert_id,
            "r": route,
            "c": cycle,
            "s": step,
            "n": ms_to_datetime(next_at_ms),
            "nt": list(notified),
        },
    )


async def close(conn: AsyncConnection, *, alert_ids: Sequence[str]) -> list[EscalationRow]:
    """The alerts resolved: their escalations go; returned, to tell whom they reached."""
    rows = await conn.execute(
        sa.text("DELETE FROM alerting.escalations WHERE alert_id = ANY(:a) RETURNING *"),
        {"a": list(alert_ids)},
    )
    return [EscalationRow.of(r) for r in rows.all()]
