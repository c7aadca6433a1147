"""The timers: flush aggregation groups when due and run escalation steps, from the database
(so a restart or another instance picks up exactly where this one stopped)."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.ext.asyncio import AsyncConnection

from alerting import direct, flushing, paging, store
from alerting.context import Context
from alerting.domain import escalation, muting
from alerting.store.escalations import EscalationRow
from pacta.clock import now_ms
from pacta.logs import get_logger

log = get_logger(__name__)
IDLE_POLL_S = 1.0
MUTED_RECHECK_MS = 15_000


async def escalate_due(conn: AsyncConnection, ctx: Context, at_ms: int, limit: int = 200) -> int:
    """Run the escalation steps due; how many escalations were looked at."""
    rows = await store.escalations.due(conn, now_ms=at_ms, limit=limit)
    sources = await store.alerts.open_labels(conn) if rows and ctx.live.inhibit else []
    for row in rows:
        await _escalate(conn, ctx, row, at_ms, sources)
    return len(rows)


async def _escalate(
    conn: AsyncConnection,
    ctx: Context,
    row: EscalationRow,
    at_ms: int,
    sources: list[tuple[str, dict[str, str]]],
) -> None:
    alert = await store.alerts.get(conn, alert_id=row.alert_id)
    policy = ctx.live.policies.get(row.policy)
    if alert is None or alert.state != "firing" or policy is None:
        # acknowledged (or gone): escalation stops; the row stays to send the resolve
        await store.escalations.stop(conn, alert_id=row.alert_id, route=row.route)
        return
    silences = muting.silenced_by(ctx.live.silences, alert.labels, at_ms)
    held = bool(silences) or (
        bool(ctx.live.inhibit)
        and muting.inhibited(ctx.live.inhibit, alert.id, alert.labels, sources)
    )
    timed_out = muting.time_muted(row.mute, row.active, ctx.live.calendars, at_ms)
    if held or timed_out:
        # a muted alert does not page; the step waits for the silence (or source) to go,
        # or for the route's time interval to open
        turn = muting.next_time_change([*row.mute, *row.active], ctx.live.calendars, at_ms)
        waits = [s.ends_at_ms for s in silences]
        if held:
            waits.append(at_ms + MUTED_RECHECK_MS)
        if timed_out:
            # a calendar may be replaced meanwhile (the engine republishes it): look each minute
            waits += [at_ms + 60_000] + ([turn] if turn is not None else [])
        await store.escalations.postpone(
            conn, alert_id=row.alert_id, route=row.route, next_at_ms=min(waits)
        )
        return
    started = row.started_at_ms if row.started_at_ms is not None else alert.fired_at_ms
    step = row.step if row.step < len(policy.steps) else 0  # the policy lost steps since
    due, upcoming = escalation.due_steps(policy, started, row.cycle, step, at_ms)
    notified = set(row.notified)
    while due:
        cycle, step = due.pop(0)
        reached = await paging.page_schedules(
            conn,
            ctx,
            alert=alert,
            schedules=policy.steps[step].schedules,
            route=row.route,
            policy=policy.name,
            cycle=cycle,
            step=step,
            at_ms=at_ms,
        )
        if not reached and not policy.steps[step].receivers and not due and upcoming:
            # the step's schedules had nobody on call: the next step runs now, not later
            due.append(upcoming)
            upcoming = escalation.next_step(policy, *upcoming)
        notified |= reached
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
        await store.escalations.stop(
            conn, alert_id=row.alert_id, route=row.route, notified=sorted(notified)
        )
        return
    await store.escalations.advance(
        conn,
        alert_id=row.alert_id,
        route=row.route,
        cycle=upcoming[0],
        step=upcoming[1],
        next_at_ms=escalation.step_due_at(policy, started, *upcoming),
        notified=sorted(notified),
    )


async def run(ctx: Context, stop: asyncio.Event) -> None:
    """Flush and escalate whatever is due, then sleep until the next instant anything is."""
    while not stop.is_set():
        wait = IDLE_POLL_S
        try:
            at = now_ms()
            async with ctx.engine.begin() as conn:
                queued = await flushing.flush_due(conn, ctx, at)
                escalated = await escalate_due(conn, ctx, at)
            if queued or escalated:
                # something may wait in the queue now; a round that queued nothing does not
                # cost the worker a claim
                ctx.delivery_wake.set()
            async with ctx.engine.connect() as conn:
                upcoming = await store.groups.next_due_ms(conn)
            if upcoming is not None:
                wait = min(IDLE_POLL_S, max(0.0, (upcoming - now_ms()) / 1000))
        except Exception as exc:
            log.warning("dispatcher round failed; retrying", error=repr(exc))
            wait = 0.5
        if wait > 0:
            # a commit due sooner than this wakes the timers (`Context.dispatcher_late_for`)
            ctx.dispatch_asleep_until_ms = now_ms() + int(wait * 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ctx.dispatch_wake.wait(), wait)
            ctx.dispatch_asleep_until_ms = None
        ctx.dispatch_wake.clear()
