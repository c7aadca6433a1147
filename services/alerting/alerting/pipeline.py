"""Signals in, alerts out: apply each signal to its alert, put the alert in the aggregation
groups its labels route to, arm escalations; all inside the consumer's transaction, a batch of
signals at a time (one statement per step, not per signal)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from alerting import direct, flushing, store
from alerting.context import Context
from alerting.domain import escalation, grouping, routing
from alerting.domain.alerts import Alert, alert_key, apply_signal
from alerting.store.alerts import HistoryEntry
from alerting.store.groups import NewGroup, RouteOptions
from pacta.durations import ms_to_datetime
from pacta.logs import get_logger

log = get_logger(__name__)


async def apply_signals(
    conn: AsyncConnection, ctx: Context, signals: Sequence[dict[str, Any]], now_ms: int
) -> set[str]:
    """Apply fresh (already deduplicated) signals in order; return the group keys touched."""
    if not signals:
        return set()
    current = await store.alerts.open_by_key(conn, keys=sorted({alert_key(s) for s in signals}))
    final: dict[str, Alert] = {}  # by alert id, in the order first seen
    applied: dict[str, list[str]] = {}
    fired: set[str] = set()
    history: list[HistoryEntry] = []
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
        detail = {"signal_id": signal["signal_id"], "kind": signal["kind"]}
        history.append(HistoryEntry(alert.id, now_ms, change, detail))
    await store.alerts.save(conn, alerts=[(a, applied[i]) for i, a in final.items()])
    await store.alerts.add_history(conn, entries=history)
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
    before = await store.groups.memberships(conn, alert_ids=[a.id for a in alerts])
    # labels changed (a warning became a breach): the alert moves to where it routes now
    gone = [(k, a) for a, keys in before.items() for k in keys - set(wanted.get(a, {}))]
    await store.groups.leave(conn, pairs=gone)
    groups: dict[str, NewGroup] = {}
    members: list[tuple[str, str]] = []
    by_id = {a.id: a for a in alerts}
    for alert_id, targets in wanted.items():
        for key, r in targets.items():
            members.append((key, alert_id))
            if key not in groups:
                options = RouteOptions.of_route(r)
                fresh = grouping.formed(now_ms, options.timing)
                groups[key] = NewGroup(
                    key=key,
                    receiver=str(r.receiver),
                    labels=routing.group_labels(r, by_id[alert_id].labels),
                    options=options,
                    created_at_ms=now_ms,
                    next_flush_at_ms=fresh.next_flush_at_ms,
                )
    # one statement each for the whole batch (sorted keys: a stable lock order)
    await store.groups.create(conn, groups=[groups[k] for k in sorted(groups)])
    await store.groups.join(conn, pairs=members)
    touched = set(groups) | {k for k, _ in gone}
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
    await store.escalations.arm(
        conn,
        alert_id=alert.id,
        policy=policy.name,
        # the route's time intervals hold its escalation too (page only out of hours...)
        options=RouteOptions.of_route(route),
        started_at_ms=start_ms,
        first_at_ms=escalation.step_due_at(policy, start_ms, 0, 0),
    )
    ctx.dispatch_wake.set()


async def resolved(conn: AsyncConnection, ctx: Context, alert: Alert, now_ms: int) -> set[str]:
    """The alert resolved: its groups look again, its escalation tells whom it reached, and the
    expire_on_resolve silences that matched it may end."""
    keys = await store.groups.keys_of(conn, alert_id=alert.id)
    await flushing.changed_many(conn, keys, now_ms)
    await direct.close_escalations(conn, ctx, alert, now_ms)
    if any(s.expire_on_resolve for s in ctx.live.silences):
        ended = await store.silences.expire_on_resolve(
            conn, alert_id=alert.id, at=ms_to_datetime(now_ms)
        )
        if ended:
            log.info("silences expired on resolve", silences=ended, alert_id=alert.id)
            await direct.wake_silenced(conn, ctx, ended)
    return set(keys)
