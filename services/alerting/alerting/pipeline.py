"""The path of a signal through alerting, stage by stage, in one place (as Alertmanager's
`notify.PipelineBuilder`): `run` reads top to bottom from Kafka's batch to the delivery queue.
Every stage runs in the consumer's transaction, a batch of signals at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from alerting import direct, flushing, store
from alerting.context import Context
from alerting.domain import escalation, grouping, routing
from alerting.domain.alerts import Alert, alert_key, apply_signal
from alerting.store.alerts import HistoryEntry
from alerting.store.deliveries import DeliveryRow
from alerting.store.escalations import Arming
from alerting.store.groups import GroupRow, NewGroup, RouteOptions
from pacta.durations import ms_to_datetime
from pacta.events import Signal
from pacta.logs import get_logger

log = get_logger(__name__)


@dataclass
class Applied:
    """What a batch came to: the signals new to alerting, the deliveries queued, and those
    leased to this process's worker (started once the transaction committed)."""

    fresh: list[Signal]
    queued: int = 0
    leased: list[DeliveryRow] = field(default_factory=list)
    resolved: int = 0  # alerts resolved: their escalations may have queued resolves
    armed: bool = False  # escalations armed: their first steps fall due
    next_flush_ms: int | None = None  # the earliest next flush of the groups written

    @property
    def for_timers(self) -> bool:
        """Whether the batch left work for the timers whatever their sleep (escalations)."""
        return self.armed or self.resolved > 0

    @property
    def left_for_claim(self) -> bool:
        """Whether the batch queued deliveries its worker did not take leased."""
        return self.queued > len(self.leased) or self.resolved > 0


async def run(
    conn: AsyncConnection, ctx: Context, signals: Sequence[Signal], now_ms: int
) -> Applied:
    """One batch of signals, stage after stage. Muting (silences, then inhibition, then the
    route's time intervals) is decided when a group flushes, on the alerts as they are then:
    a silence that ends or a source that resolves releases what it held at the next flush."""
    # 1. inbox: a signal applied before (restart, replay, rebalance) is dropped here, in the
    #    transaction that applies the rest, so it can never notify twice. The same statement
    #    locks the open alerts of the signals' keys (step 2)
    fresh, current = await take_new(conn, signals)
    # 2. alert state: each signal fires, updates or resolves its alert (domain.alerts)
    changes = await update_alerts(conn, fresh, now_ms, current)
    if changes.closed:
        # written now: the resolves of their escalations (step 6) come after in the history
        await store.alerts.add_history(conn, entries=changes.history)
        changes.history = []
    # 3. routing: the routes each open alert's labels match (domain.routing)
    routes = match_routes(ctx, changes.open)
    # 4. grouping: open alerts join (and leave) the aggregation groups of their routes
    touched, wanted, joined, joining = await group(conn, routes, changes.fired, now_ms)
    # 5. escalation: the routes' escalation policies start paging (domain.escalation)
    armed = await arm_escalations(conn, ctx, routes, changes.fired, now_ms)
    # 6. resolved alerts: their groups look again, their escalations tell whom they reached
    touched |= await close_many(conn, ctx, changes.closed, now_ms)
    # 7. the touched groups, locked once, their next flush brought forward; the due ones flush:
    #    mute, decide (domain.grouping), queue the deliveries (the worker sends them:
    #    delivery.py). The alerts this batch wrote are used as they are, not read back.
    #    A group not found is formed by this batch: it has no members but the ones it joined
    #    now (none is read) and no flush to move yet; it is written once, with its state
    #    after its flush (not inserted, then updated).
    #    The alerts' history of this batch is written with the flush's, in one statement
    #    (unless alerts resolved: their escalations' resolves were noted after it, step 6).
    #    The memberships of step 4 are written by the statement that locks the groups.
    found = await flushing.changed_many(conn, sorted(touched), now_ms, joining=joining)
    have = {g.key for g in found}
    forming = [wanted[k] for k in sorted(wanted) if k not in have]
    formed = [GroupRow.of_new(g) for g in forming]
    locked = formed + found
    applied = Applied(fresh, resolved=len(changes.closed), armed=armed)
    known = {a.id: a for a in [*changes.open, *changes.closed]}
    members = {
        g.key: sorted((known[i] for i in joined[g.key]), key=lambda a: (a.fired_at_ms, a.id))
        for g in formed
    }
    flushes: list[int] = []
    applied.queued = await flushing.flush_due(
        conn,
        ctx,
        now_ms,
        leased=applied.leased,
        known=known,
        locked=locked,
        members_of=members,
        history=changes.history,
        unsaved=changes.unsaved,
        forming=forming,
        next_flushes=flushes,
    )
    # the groups flushed now have their new next flush; the others keep theirs
    flushes += [g.state.next_flush_at_ms for g in locked if g.state.next_flush_at_ms > now_ms]
    applied.next_flush_ms = min(flushes, default=None)
    return applied


async def take_new(
    conn: AsyncConnection, signals: Sequence[Signal]
) -> tuple[list[Signal], dict[str, Alert]]:
    """The signals never applied before, each once, in the order given; kept for the record.
    With the open alert of each of their keys, locked (by key; the keys of signals applied
    before too: locked for nothing, as they are few)."""
    keys = sorted({alert_key(s) for s in signals})
    new, current = await store.inbox.claim_locking(conn, signals=signals, keys=keys)
    seen: set[str] = set()
    fresh = []
    for s in signals:
        if s.signal_id in new and s.signal_id not in seen:
            seen.add(s.signal_id)
            fresh.append(s)
    return fresh, current


@dataclass
class Changes:
    open: list[Alert]  # fired or updated, still open
    closed: list[Alert]  # resolved by this batch
    fired: set[str]  # ids of the alerts this batch opened
    history: list[HistoryEntry]  # what the signals did to them, not written yet
    unsaved: list[tuple[Alert, list[str]]] = field(default_factory=list)  # open, signal ids


async def update_alerts(
    conn: AsyncConnection, signals: Sequence[Signal], now_ms: int, current: dict[str, Alert]
) -> Changes:
    """Apply the signals in order to their alerts (`current`: the open alert of each of their
    keys, locked; updated here). The resolved ones are written; the open ones and the history
    entries are returned for the caller to write (the open alerts with the receivers they
    reach, in one row write each)."""
    if not signals:
        return Changes([], [], set(), [])
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
        applied.setdefault(alert.id, []).append(signal.signal_id)
        if change == "fired":
            fired.add(alert.id)
        detail = {"signal_id": signal.signal_id, "kind": signal.kind}
        history.append(HistoryEntry(alert.id, now_ms, change, detail))
    # the resolved ones now (before a new episode of their key, and their silences look at
    # them, step 6); the open ones with the receivers their flush reaches (step 7)
    closed = [a for a in final.values() if not a.open]
    await store.alerts.save(conn, alerts=[(a, applied[a.id]) for a in closed])
    unsaved = [(a, applied[a.id]) for a in final.values() if a.open]
    return Changes([a for a, _ in unsaved], closed, fired, history, unsaved)


def match_routes(ctx: Context, alerts: Sequence[Alert]) -> list[tuple[Alert, list[routing.Route]]]:
    tree = ctx.live.tree
    return [(a, routing.match(tree, a.labels) if tree is not None else []) for a in alerts]


async def group(
    conn: AsyncConnection,
    routes: Sequence[tuple[Alert, list[routing.Route]]],
    fired: set[str],
    now_ms: int,
) -> tuple[set[str], dict[str, NewGroup], dict[str, list[str]], list[tuple[str, str]]]:
    """Put each alert into the groups of its routes that notify (leaving the others); the keys
    of the groups touched, the groups wanted (by key: formed as given if they do not exist;
    not written here), the ids of the alerts that joined each group (by key), and the (group
    key, alert id) memberships, not written yet (the caller writes them before it reads any
    group's members). `fired` are alerts this batch opened: in no group yet."""
    if not routes:
        return set(), {}, {}, []
    wanted = {
        alert.id: {routing.group_key(r, alert.labels): r for r in matched if r.receiver}
        for alert, matched in routes
    }
    # an alert opened now has a new id: no membership of it can exist yet
    earlier = [i for i in wanted if i not in fired]
    before = await store.groups.memberships(conn, alert_ids=earlier) if earlier else {}
    # labels changed (a warning became a breach): the alert moves to where it routes now
    gone = [(k, a) for a, keys in before.items() for k in keys - set(wanted.get(a, {}))]
    await store.groups.leave(conn, pairs=gone)
    groups: dict[str, NewGroup] = {}
    members: list[tuple[str, str]] = []
    joined: dict[str, list[str]] = {}
    labels = {alert.id: alert.labels for alert, _ in routes}
    for alert_id, targets in wanted.items():
        for key, r in targets.items():
            members.append((key, alert_id))
            joined.setdefault(key, []).append(alert_id)
            if key not in groups:
                options = RouteOptions.of_route(r)
                groups[key] = NewGroup(
                    key=key,
                    receiver=str(r.receiver),
                    labels=routing.group_labels(r, labels[alert_id]),
                    options=options,
                    created_at_ms=now_ms,
                    next_flush_at_ms=grouping.formed(now_ms, options.timing).next_flush_at_ms,
                )
    # the memberships are written, the groups locked, their next flush brought forward (or
    # formed) in run, step 7
    return set(groups) | {k for k, _ in gone}, groups, joined, members


async def arm_escalations(
    conn: AsyncConnection,
    ctx: Context,
    routes: Sequence[tuple[Alert, list[routing.Route]]],
    fired: set[str],
    now_ms: int,
) -> bool:
    """Every time, not only when it fired: a warning that becomes a breach enters the breach
    route's escalation then (arming twice is a no-op). One statement for the batch; whether
    any was armed."""
    armings = []
    for alert, matched in routes:
        for route in matched:
            if not route.escalation:
                continue
            policy = ctx.live.policies.get(route.escalation)
            if policy is None:
                log.warning("escalation policy missing", policy=route.escalation, alert_id=alert.id)
                continue
            # counted from when it fired, or from when it entered this route if later
            start = alert.fired_at_ms if alert.id in fired else now_ms
            armings.append(
                Arming(
                    alert_id=alert.id,
                    policy=policy.name,
                    # the route's time intervals hold its escalation too (page only out of hours)
                    options=RouteOptions.of_route(route),
                    started_at_ms=start,
                    first_at_ms=escalation.step_due_at(policy, start, 0, 0),
                )
            )
    if armings:
        await store.escalations.arm(conn, armings=armings)
        ctx.dispatch_wake.set()
    return bool(armings)


async def close(conn: AsyncConnection, ctx: Context, alert: Alert, now_ms: int) -> set[str]:
    """The alert resolved (by hand): its groups look again (locked, their next flush brought
    forward), then as `close_many`. The keys of its groups."""
    keys = await store.groups.keys_of(conn, alert_id=alert.id)
    await flushing.changed_many(conn, keys, now_ms)
    await _stop_escalations(conn, ctx, [alert], now_ms)
    return set(keys)


async def close_many(
    conn: AsyncConnection, ctx: Context, alerts: Sequence[Alert], now_ms: int
) -> set[str]:
    """The alerts resolved: their escalations tell whom they reached, and the
    expire_on_resolve silences that matched them may end (one statement per step for all of
    them, not per alert). The keys of their groups: the caller brings their next flush
    forward."""
    if not alerts:
        return set()
    found = await store.groups.memberships(conn, alert_ids=[a.id for a in alerts])
    await _stop_escalations(conn, ctx, alerts, now_ms)
    return set().union(*found.values())


async def _stop_escalations(
    conn: AsyncConnection, ctx: Context, alerts: Sequence[Alert], now_ms: int
) -> None:
    await direct.close_escalations(conn, ctx, alerts, now_ms)
    if any(s.expire_on_resolve for s in ctx.live.silences):
        ids = [a.id for a in alerts]
        at = ms_to_datetime(now_ms)
        ended = await store.silences.expire_on_resolve(conn, alert_ids=ids, at=at)
        if ended:
            log.info("silences expired on resolve", silences=ended, alert_ids=ids[:20])
            await direct.wake_silenced(conn, ctx, ended)
