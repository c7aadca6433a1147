"""The timers: flush aggregation groups when due and run escalation steps, from the database
(so a restart or another instance picks up exactly where this one stopped)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from alerting import direct, flushing, store
from alerting.context import Context
from alerting.domain import escalation, muting
from pacta.clock import now_ms
from pacta.durations import datetime_to_ms, ms_to_datetime
from pacta.logs import get_logger

log = get_logger(__name__)
IDLE_POLL_S = 1.0
MUTED_RECHECK_MS = 15_000


async def escalate_due(conn: AsyncConnection, ctx: Context, at_ms: int, limit: int = 200) -> None:
    rows = (
        await conn.execute(
            sa.text(
                "SELECT * FROM alerting.escalations WHERE active AND next_at <= :now "
                "ORDER BY next_at LIMIT :n FOR UPDATE SKIP LOCKED"
            ),
            {"now": ms_to_datetime(at_ms), "n": limit},
        )
    ).all()
    sources = await store.open_alert_labels(conn) if rows and ctx.live.inhibit else []
    for row in rows:
        await _escalate(conn, ctx, row, at_ms, sources)


async def _escalate(
    conn: AsyncConnection, ctx: Context, row: Any, at_ms: int, sources: list[Any]
) -> None:
    alert = await store.get_alert(conn, row.alert_id)
    policy = ctx.live.policies.get(row.policy)
    where = {"a": row.alert_id, "r": row.route}
    if alert is None or alert.state != "firing" or policy is None:
        # acknowledged (or gone): escalation stops; the row stays to send the resolve
        await conn.execute(
            sa.text(
                "UPDATE alerting.escalations SET active = false WHERE alert_id = :a AND route = :r"
            ),
            where,
        )
        return
    silences = muting.silenced_by(ctx.live.silences, alert.labels, at_ms)
    held = bool(silences) or (
        bool(ctx.live.inhibit)
        and muting.inhibited(ctx.live.inhibit, alert.id, alert.labels, sources)
    )
    options = row.options or {}
    mute, active = options.get("mute", []), options.get("active", [])
    timed_out = muting.time_muted(mute, active, ctx.live.calendars, at_ms)
    if held or timed_out:
        # a muted alert does not page; the step waits for the silence (or source) to go,
        # or for the route's time interval to open
        turn = muting.next_time_change([*mute, *active], ctx.live.calendars, at_ms)
        waits = [s.ends_at_ms for s in silences]
        if held:
            waits.append(at_ms + MUTED_RECHECK_MS)
        if timed_out:
            # a calendar may be replaced meanwhile (the engine republishes it): look each minute
            waits += [at_ms + 60_000] + ([turn] if turn is not None else [])
        later = min(waits)
        await conn.execute(
            sa.text(
                "UPDATE alerting.escalations SET next_at = :n WHERE alert_id = :a AND route = :r"
            ),
            {**where, "n": ms_to_datetime(later)},
        )
        return
    started = int(options.get("started_at_ms", alert.fired_at_ms))
    step = row.step if row.step < len(policy.steps) else 0  # the policy lost steps since
    due, upcoming = escalation.due_steps(policy, started, row.cycle, step, at_ms)
    notified = set(row.notified)
    for cycle, step in due:
        for receiver in policy.steps[step].receivers:
            await direct.enqueue_direct(
                conn,
                ctx,
                alert=alert,
                receiver=receiver,
                status="firing",
                key_parts=("escalation", alert.id, row.route, cycle, step, receiver),
                group_key=f"escalation:{policy.name}:{alert.id}",
                now_ms=at_ms,
                event="escalated",
            )
            notified.add(receiver)
    if upcoming is None:
        await conn.execute(
            sa.text(
                "UPDATE alerting.escalations SET active = false, notified = :nt "
                "WHERE alert_id = :a AND route = :r"
            ),
            {**where, "nt": sorted(notified)},
        )
        return
    await conn.execute(
        sa.text(
            "UPDATE alerting.escalations SET cycle = :c, step = :s, next_at = :n, notified = :nt "
            "WHERE alert_id = :a AND route = :r"
        ),
        {
            **where,
            "c": upcoming[0],
            "s": upcoming[1],
            "n": ms_to_datetime(escalation.step_due_at(policy, started, *upcoming)),
            "nt": sorted(notified),
        },
    )


async def next_due_ms(conn: AsyncConnection) -> int | None:
    row = (
        await conn.execute(
            sa.text(
                "SELECT LEAST((SELECT min(next_flush_at) FROM alerting.groups), "
                "(SELECT min(next_at) FROM alerting.escalations WHERE active))"
            )
        )
    ).scalar()
    return datetime_to_ms(row) if row is not None else None


async def run(engine: AsyncEngine, ctx: Context, stop: asyncio.Event) -> None:
    """Flush and escalate whatever is due, then sleep until the next instant anything is."""
    while not stop.is_set():
        wait = IDLE_POLL_S
        try:
            at = now_ms()
            async with engine.begin() as conn:
                await flushing.flush_due(conn, ctx, at)
                await escalate_due(conn, ctx, at)
            ctx.delivery_wake.set()
            async with engine.connect() as conn:
                upcoming = await next_due_ms(conn)
            if upcoming is not None:
                wait = min(IDLE_POLL_S, max(0.0, (upcoming - now_ms()) / 1000))
        except Exception as exc:
            log.warning("dispatcher round failed; retrying", error=repr(exc))
            wait = 0.5
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ctx.dispatch_wake.wait(), wait)
        ctx.dispatch_wake.clear()
