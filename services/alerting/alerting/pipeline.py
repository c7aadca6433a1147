"""Signals in, alerts out: apply each signal to its alert, put the alert in the aggregation
groups its labels route to, arm escalations; all inside the consumer's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from alerting import flushing, store
from alerting.context import Context
from alerting.domain import escalation, grouping, routing
from alerting.domain.alerts import Alert, alert_key, apply_signal
from pacta.durations import ms_to_datetime
from pacta.logs import get_logger

log = get_logger(__name__)


async def apply_signals(
    conn: AsyncConnection, ctx: Context, signals: Sequence[dict[str, Any]], now_ms: int
) -> set[str]:
    """Apply fresh (already deduplicated) signals in order; return the group keys touched."""
    touched: set[str] = set()
    for signal in signals:
        current = await store.open_alert(conn, alert_key(signal))
        alert, change = apply_signal(current, signal, now_ms)
        if alert is None or change == "ignored":
            continue
        await store.save_alert(conn, alert, signal["signal_id"])
        await store.add_history(
            conn,
            [
                (
                    alert.id,
                    now_ms,
                    change,
                    {"signal_id": signal["signal_id"], "kind": signal["kind"]},
                )
            ],
        )
        if change == "resolved":
            touched |= await resolved(conn, ctx, alert, now_ms)
        else:
            touched |= await _route(conn, ctx, alert, now_ms, fired=change == "fired")
    return touched


async def _route(
    conn: AsyncConnection, ctx: Context, alert: Alert, now_ms: int, *, fired: bool
) -> set[str]:
    tree = ctx.live.tree
    routes = routing.match(tree, alert.labels) if tree is not None else []
    wanted = {routing.group_key(r, alert.labels): r for r in routes if r.receiver}
    rows = await conn.execute(
        sa.text("SELECT group_key FROM alerting.group_alerts WHERE alert_id = :a"), {"a": alert.id}
    )
    before = {r[0] for r in rows}
    # labels changed (a warning became a breach): the alert moves to where it routes now
    gone = sorted(before - set(wanted))
    if gone:
        await conn.execute(
            sa.text(
                "DELETE FROM alerting.group_alerts WHERE alert_id = :a AND group_key = ANY(:k)"
            ),
            {"a": alert.id, "k": gone},
        )
    for key in sorted(wanted):
        await _join(conn, key, wanted[key], alert, now_ms)
    if fired:
        for route in routes:
            if route.escalation:
                await _arm_escalation(conn, ctx, alert, route)
    return set(wanted) | set(gone)


async def _join(
    conn: AsyncConnection, key: str, route: routing.Route, alert: Alert, now_ms: int
) -> None:
    timing = flushing.timing_of(flushing.options_of(route))
    fresh = grouping.formed(now_ms, timing)
    await conn.execute(
        sa.text(
            "INSERT INTO alerting.groups (key, route, receiver, labels, created_at, "
            "next_flush_at, options) VALUES (:key, :route, :receiver, CAST(:labels AS jsonb), "
            ":now, :next, CAST(:options AS jsonb)) ON CONFLICT (key) DO NOTHING"
        ),
        {
            "key": key,
            "route": route.path_id,
            "receiver": route.receiver,
            "labels": store.jsonb(routing.group_labels(route, alert.labels)),
            "now": ms_to_datetime(now_ms),
            "next": ms_to_datetime(fresh.next_flush_at_ms),
            "options": store.jsonb(flushing.options_of(route)),
        },
    )
    await conn.execute(
        sa.text(
            "INSERT INTO alerting.group_alerts (group_key, alert_id) VALUES (:k, :a) "
            "ON CONFLICT DO NOTHING"
        ),
        {"k": key, "a": alert.id},
    )
    await flushing.changed(conn, key, now_ms)


async def _arm_escalation(
    conn: AsyncConnection, ctx: Context, alert: Alert, route: routing.Route
) -> None:
    policy = ctx.live.policies.get(route.escalation or "")
    if policy is None:
        log.warning("escalation policy missing", policy=route.escalation, alert_id=alert.id)
        return
    first = escalation.step_due_at(policy, alert.fired_at_ms, 0, 0)
    await conn.execute(
        sa.text(
            "INSERT INTO alerting.escalations (alert_id, route, policy, cycle, step, next_at) "
            "VALUES (:a, :r, :p, 0, 0, :at) ON CONFLICT DO NOTHING"
        ),
        {"a": alert.id, "r": route.path_id, "p": policy.name, "at": ms_to_datetime(first)},
    )
    ctx.dispatch_wake.set()


async def resolved(conn: AsyncConnection, ctx: Context, alert: Alert, now_ms: int) -> set[str]:
    rows = await conn.execute(
        sa.text("SELECT group_key FROM alerting.group_alerts WHERE alert_id = :a"), {"a": alert.id}
    )
    keys = sorted(r[0] for r in rows)
    for key in keys:
        await flushing.changed(conn, key, now_ms)
    await flushing.close_escalations(conn, ctx, alert, now_ms)
    ended = await store.expire_on_resolve(conn, alert.id, ms_to_datetime(now_ms))
    if ended:
        log.info("silences expired on resolve", silences=ended, alert_id=alert.id)
        await flushing.wake_silenced(conn, ctx, ended)
    return set(keys)
