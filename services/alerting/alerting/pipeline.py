"""Signals in, alerts out: apply each signal to its alert, put the alert in the aggregation
groups its labels route to, arm escalations; all inside the consumer's transaction, a batch of
signals at a time (one statement per step, not per signal)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from alerting import direct, flushing, store
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
    if not signals:
        return set()
    current = await store.open_alerts(conn, sorted({alert_key(s) for s in signals}))
    final: dict[str, Alert] = {}  # by alert id, in the order first seen
    applied: dict[str, list[str]] = {}
    fired: set[str] = set()
    history: list[tuple[str, int, str, dict[str, Any]]] = []
    for signal in signals:
        key = alert_key(signal)
        alert, change = apply_signal(current.get(key), signal, now_ms)
        if alert is None or change == "ignored":
            continue
        current[key] = alert
        final[alert.id] = alert
        applied.setdefault(alert.id, []).append(signal["signal_id"])
        if change == "fired":
            fired.add(alert.id)
        history.append(
            (alert.id, now_ms, change, {"signal_id": signal["signal_id"], "kind": signal["kind"]})
        )
    await store.save_alerts(conn, [(a, applied[i]) for i, a in final.items()])
    await store.add_history(conn, history)
    open_ones = [a for a in final.values() if a.open]
    closed = [a for a in final.values() if not a.open]
    touched = await route(conn, ctx, open_ones, fired, now_ms)
    for alert in closed:
        touched |= await resolved(conn, ctx, alert, now_ms)
    return touched


async def route(
    conn: AsyncConnection, ctx: Context, alerts: Sequence[Alert], fired: set[str], now_ms: int
) -> set[str]:
    """Put each alert into the groups its labels route to now (leaving the others)."""
    if not alerts:
        return set()
    tree = ctx.live.tree
    wanted: dict[str, dict[str, routing.Route]] = {}
    arm: list[tuple[Alert, routing.Route]] = []
    for alert in alerts:
        routes = routing.match(tree, alert.labels) if tree is not None else []
        wanted[alert.id] = {routing.group_key(r, alert.labels): r for r in routes if r.receiver}
        # every time, not only when it fired: a warning that becomes a breach enters the
        # breach route's escalation then (arming twice is a no-op)
        arm += [(alert, r) for r in routes if r.escalation]
    rows = await conn.execute(
        sa.text("SELECT alert_id, group_key FROM alerting.group_alerts WHERE alert_id = ANY(:a)"),
        {"a": [a.id for a in alerts]},
    )
    before: dict[str, set[str]] = {}
    for alert_id, key in rows:
        before.setdefault(alert_id, set()).add(key)
    # labels changed (a warning became a breach): the alert moves to where it routes now
    gone = [(a, k) for a, keys in before.items() for k in keys - set(wanted.get(a, {}))]
    if gone:
        await conn.execute(
            sa.text(
                "DELETE FROM alerting.group_alerts WHERE (alert_id, group_key) IN "
                "(SELECT * FROM unnest(CAST(:a AS text[]), CAST(:k AS text[])))"
            ),
            {"a": [a for a, _ in gone], "k": [k for _, k in gone]},
        )
    groups: dict[str, dict[str, Any]] = {}
    members: list[dict[str, str]] = []
    by_id = {a.id: a for a in alerts}
    for alert_id, targets in wanted.items():
        for key, r in targets.items():
            members.append({"k": key, "a": alert_id})
            if key not in groups:
                options = flushing.options_of(r)
                fresh = grouping.formed(now_ms, flushing.timing_of(options))
                groups[key] = {
                    "key": key,
                    "route": r.path_id,
                    "receiver": r.receiver,
                    "labels": routing.group_labels(r, by_id[alert_id].labels),
                    "now": ms_to_datetime(now_ms),
                    "next": ms_to_datetime(fresh.next_flush_at_ms),
                    "options": options,
                }
    if groups:
        # one statement each for the whole batch (sorted keys: a stable lock order)
        await conn.execute(
            sa.text(
                "INSERT INTO alerting.groups (key, route, receiver, labels, created_at, "
                "next_flush_at, options) SELECT key, route, receiver, labels, now, next, "
                "options FROM "
                + store.recordset(
                    "key text, route text, receiver text, labels jsonb, now timestamptz, "
                    "next timestamptz, options jsonb"
                )
                + " ORDER BY ord ON CONFLICT (key) DO NOTHING"
            ),
            {"rows": store.jsonb([groups[k] for k in sorted(groups)])},
        )
        await conn.execute(
            sa.text(
                "INSERT INTO alerting.group_alerts (group_key, alert_id) SELECT k, a FROM "
                + store.recordset("k text, a text")
                + " ORDER BY ord ON CONFLICT DO NOTHING"
            ),
            {"rows": store.jsonb(members)},
        )
    touched = set(groups) | {k for _, k in gone}
    await flushing.changed_many(conn, sorted(touched), now_ms)
    for alert, r in arm:
        # counted from when it fired, or from when it entered this route if that was later
        start = alert.fired_at_ms if alert.id in fired else now_ms
        await _arm_escalation(conn, ctx, alert, r, start)
    return touched


async def _arm_escalation(
    conn: AsyncConnection, ctx: Context, alert: Alert, route: routing.Route, start_ms: int
) -> None:
    policy = ctx.live.policies.get(route.escalation or "")
    if policy is None:
        log.warning("escalation policy missing", policy=route.escalation, alert_id=alert.id)
        return
    first = escalation.step_due_at(policy, start_ms, 0, 0)
    await conn.execute(
        sa.text(
            "INSERT INTO alerting.escalations (alert_id, route, policy, cycle, step, next_at, "
            "options) VALUES (:a, :r, :p, 0, 0, :at, CAST(:o AS jsonb)) ON CONFLICT DO NOTHING"
        ),
        {
            "a": alert.id,
            "r": route.path_id,
            "p": policy.name,
            "at": ms_to_datetime(first),
            # the route's time intervals hold its escalation too (page only out of hours...)
            "o": store.jsonb({**flushing.options_of(route), "started_at_ms": start_ms}),
        },
    )
    ctx.dispatch_wake.set()


async def resolved(conn: AsyncConnection, ctx: Context, alert: Alert, now_ms: int) -> set[str]:
    """The alert resolved: its groups look again, its escalation tells whom it reached, and the
    expire_on_resolve silences that matched it may end."""
    rows = await conn.execute(
        sa.text("SELECT group_key FROM alerting.group_alerts WHERE alert_id = :a"), {"a": alert.id}
    )
    keys = sorted(r[0] for r in rows)
    await flushing.changed_many(conn, keys, now_ms)
    await direct.close_escalations(conn, ctx, alert, now_ms)
    if any(s.expire_on_resolve for s in ctx.live.silences):
        ended = await store.expire_on_resolve(conn, alert.id, ms_to_datetime(now_ms))
        if ended:
            log.info("silences expired on resolve", silences=ended, alert_id=alert.id)
            await direct.wake_silenced(conn, ctx, ended)
    return set(keys)
