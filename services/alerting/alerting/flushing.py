"""Aggregation groups flushed into deliveries: the stored shell around `domain.grouping`, with
silences, inhibition and time intervals deciding what a flush may send."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from alerting import queue, store
from alerting.context import Context
from alerting.domain import grouping, muting, routing
from alerting.domain.alerts import Alert
from alerting.metrics import ALERTS_NOTIFIED
from alerting.specs import silence_from_row
from pacta.durations import datetime_to_ms, ms_to_datetime, parse_timestamp_ms
from pacta.kafka import is_transient
from pacta.logs import get_logger

log = get_logger(__name__)


def options_of(route: routing.Route) -> dict[str, Any]:
    """What a group keeps of its route, so a later change of the tree does not strand it."""
    return {
        "route": route.path_id,
        "group_wait_ms": route.seconds("group_wait") * 1000,
        "group_interval_ms": route.seconds("group_interval") * 1000,
        "repeat_interval_ms": route.seconds("repeat_interval") * 1000,
        "mute": list(route.mute_time_intervals),
        "active": list(route.active_time_intervals),
    }


def timing_of(options: dict[str, Any]) -> grouping.Timing:
    return grouping.Timing(
        options["group_wait_ms"], options["group_interval_ms"], options["repeat_interval_ms"]
    )


def _state(row: Any) -> grouping.GroupState:
    return grouping.GroupState(
        created_at_ms=datetime_to_ms(row.created_at),
        next_flush_at_ms=datetime_to_ms(row.next_flush_at),
        first_flush_at_ms=datetime_to_ms(row.first_flush_at) if row.first_flush_at else None,
        last_sent_at_ms=datetime_to_ms(row.last_sent_at) if row.last_sent_at else None,
        notified=frozenset(row.notified),
        seq=row.seq,
    )


async def changed(conn: AsyncConnection, key: str, now_ms: int) -> None:
    """An alert of group `key` joined, changed or resolved: bring its next flush forward."""
    row = (
        await conn.execute(
            sa.text("SELECT * FROM alerting.groups WHERE key = :k FOR UPDATE"), {"k": key}
        )
    ).first()
    if row is None:
        return
    state = grouping.on_change(_state(row), now_ms, timing_of(row.options))
    if state.next_flush_at_ms != datetime_to_ms(row.next_flush_at):
        await conn.execute(
            sa.text("UPDATE alerting.groups SET next_flush_at = :n WHERE key = :k"),
            {"n": ms_to_datetime(state.next_flush_at_ms), "k": key},
        )


async def flush_due(
    conn: AsyncConnection,
    ctx: Context,
    now_ms: int,
    keys: Sequence[str] | None = None,
    limit: int = 200,
) -> int:
    """Flush the groups due at `now_ms` (only `keys` if given); a group another instance is
    flushing right now is skipped. Returns how many deliveries were queued."""
    where = "next_flush_at <= :now" + (" AND key = ANY(:keys)" if keys is not None else "")
    rows = (
        await conn.execute(
            sa.text(
                f"SELECT * FROM alerting.groups WHERE {where} ORDER BY next_flush_at "
                "LIMIT :n FOR UPDATE SKIP LOCKED"
            ),
            {"now": ms_to_datetime(now_ms), "keys": list(keys or []), "n": limit},
        )
    ).all()
    if not rows:
        return 0
    sources = await store.open_alert_labels(conn) if ctx.live.inhibit else []
    queued = 0
    for row in rows:
        try:
            # a savepoint per group: one group that cannot flush does not hold up the others
            async with conn.begin_nested():
                queued += await _flush(conn, ctx, row, now_ms, sources)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.exception("group flush failed; retried in a minute", group=row.key)
            await conn.execute(
                sa.text("UPDATE alerting.groups SET next_flush_at = :n WHERE key = :k"),
                {"n": ms_to_datetime(now_ms + 60_000), "k": row.key},
            )
    return queued


def _mute_reason(
    ctx: Context, alert: Alert, sources: list[tuple[str, dict[str, str]]], now_ms: int
) -> tuple[str | None, list[muting.Silence]]:
    silences = muting.silenced_by(ctx.live.silences, alert.labels, now_ms)
    if silences:
        return "silenced", silences
    if ctx.live.inhibit and muting.inhibited(ctx.live.inhibit, alert.id, alert.labels, sources):
        return "inhibited", []
    return None, []


async def _members(conn: AsyncConnection, key: str) -> list[Alert]:
    rows = await conn.execute(
        sa.text(
            "SELECT a.* FROM alerting.alerts a JOIN alerting.group_alerts g ON g.alert_id = a.id "
            "WHERE g.group_key = :k ORDER BY a.fired_at, a.id"
        ),
        {"k": key},
    )
    return [store.alert_from_row(r) for r in rows]


async def _flush(
    conn: AsyncConnection,
    ctx: Context,
    row: Any,
    now_ms: int,
    sources: list[tuple[str, dict[str, str]]],
) -> int:
    alerts = await _members(conn, row.key)
    options = row.options
    members, wake = [], None
    for alert in alerts:
        reason, silences = _mute_reason(ctx, alert, sources, now_ms) if alert.open else (None, [])
        if silences:
            await store.note_silenced(conn, [s.id for s in silences], alert.id)
            end = min(s.ends_at_ms for s in silences)
            wake = end if wake is None else min(wake, end)
        members.append(
            grouping.Member(
                alert_id=alert.id,
                fingerprint=grouping.fingerprint(alert.id, str(alert.signal.get("signal_id"))),
                resolved=not alert.open,
                acknowledged=alert.state == "acknowledged",
                muted=reason is not None,
            )
        )
    calendars = ctx.live.calendars
    muted = muting.time_muted(options["mute"], options["active"], calendars, now_ms)
    turn = muting.next_time_change([*options["mute"], *options["active"]], calendars, now_ms)
    if turn is not None:
        wake = turn if wake is None else min(wake, turn)
    decision = grouping.flush(
        _state(row), members, now_ms, timing_of(options), time_muted=muted, wake_at_ms=wake
    )
    queued = 0
    if decision.send:
        queued = await _notify(conn, ctx, row, alerts, decision, now_ms)
    if decision.drop:
        await conn.execute(
            sa.text(
                "DELETE FROM alerting.group_alerts WHERE group_key = :k AND alert_id = ANY(:ids)"
            ),
            {"k": row.key, "ids": list(decision.drop)},
        )
    if decision.state is None:
        await conn.execute(sa.text("DELETE FROM alerting.groups WHERE key = :k"), {"k": row.key})
        await conn.execute(
            sa.text("DELETE FROM alerting.group_alerts WHERE group_key = :k"), {"k": row.key}
        )
        return queued
    s = decision.state
    await conn.execute(
        sa.text(
            "UPDATE alerting.groups SET next_flush_at = :next, first_flush_at = :first, "
            "last_sent_at = :sent, notified = :notified, seq = :seq WHERE key = :k"
        ),
        {
            "next": ms_to_datetime(s.next_flush_at_ms),
            "first": ms_to_datetime(s.first_flush_at_ms) if s.first_flush_at_ms else None,
            "sent": ms_to_datetime(s.last_sent_at_ms) if s.last_sent_at_ms else None,
            "notified": sorted(s.notified),
            "seq": s.seq,
            "k": row.key,
        },
    )
    return queued


def _idempotency_key(*parts: object) -> str:
    raw = "\x00".join(str(p) for p in parts)
    return "pacta-" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def _newest_detected(alerts: Sequence[Alert], ids: set[str]) -> Any:
    found = [
        parse_timestamp_ms(str(a.signal["detected_at"]))
        for a in alerts
        if a.id in ids and a.signal.get("detected_at")
    ]
    return ms_to_datetime(max(found)) if found else None


async def _notify(
    conn: AsyncConnection,
    ctx: Context,
    row: Any,
    alerts: Sequence[Alert],
    decision: grouping.Flush,
    now_ms: int,
) -> int:
    by_id = {a.id: a for a in alerts}
    entries = [ctx.entry(by_id[i], by_id[i].state, now_ms) for i in decision.firing]
    entries += [ctx.entry(by_id[i], "resolved", now_ms) for i in decision.resolved]
    status = "firing" if decision.firing else "resolved"
    told = {grouping.alert_of(f) for f in _state(row).notified}
    fresh = {
        a.id
        for a in alerts
        if a.id in decision.firing
        and grouping.fingerprint(a.id, str(a.signal.get("signal_id"))) not in _state(row).notified
    } | (set(decision.resolved) & told)
    delivery = await queue.enqueue(
        conn,
        idempotency_key=_idempotency_key("group", row.key, row.created_at, decision.seq),
        receiver=row.receiver,
        group_key=row.key,
        status=status,
        alerts=entries,
        now=ms_to_datetime(now_ms),
        detected_at=_newest_detected(alerts, fresh),
    )
    if delivery is None:
        return 0
    ids = [*decision.firing, *decision.resolved]
    await store.add_receivers(conn, ids, row.receiver)
    await store.add_history(
        conn,
        [
            (
                i,
                now_ms,
                "notified",
                {"receiver": row.receiver, "delivery_id": delivery, "status": status},
            )
            for i in ids
        ],
    )
    ALERTS_NOTIFIED.inc(len(ids))
    return 1


async def enqueue_direct(
    conn: AsyncConnection,
    ctx: Context,
    *,
    alert: Alert,
    receiver: str,
    status: str,
    key_parts: Sequence[object],
    group_key: str,
    now_ms: int,
    event: str,
) -> None:
    """A notification of one alert outside any group (escalation steps and their resolve)."""
    state = "resolved" if status == "resolved" else alert.state
    delivery = await queue.enqueue(
        conn,
        idempotency_key=_idempotency_key(*key_parts),
        receiver=receiver,
        group_key=group_key,
        status=status,
        alerts=[ctx.entry(alert, state, now_ms)],
        now=ms_to_datetime(now_ms),
        detected_at=_newest_detected([alert], {alert.id}) if event == "escalated" else None,
    )
    if delivery is not None:
        await store.add_receivers(conn, [alert.id], receiver)
        await store.add_history(
            conn, [(alert.id, now_ms, event, {"receiver": receiver, "delivery_id": delivery})]
        )


async def close_escalations(conn: AsyncConnection, ctx: Context, alert: Alert, now_ms: int) -> None:
    """The alert resolved: escalation stops, and every receiver it reached hears so."""
    rows = await conn.execute(
        sa.text("DELETE FROM alerting.escalations WHERE alert_id = :a RETURNING *"),
        {"a": alert.id},
    )
    for row in rows.all():
        for receiver in row.notified:
            await enqueue_direct(
                conn,
                ctx,
                alert=alert,
                receiver=receiver,
                status="resolved",
                key_parts=("escalation-resolved", alert.id, row.route, receiver),
                group_key=f"escalation:{row.policy}:{alert.id}",
                now_ms=now_ms,
                event="resolve notified",
            )


async def wake_silenced(conn: AsyncConnection, ctx: Context, silence_ids: Sequence[str]) -> None:
    """Silences ended early: reload them and flush the groups they held back now."""
    rows = await conn.execute(
        sa.text("SELECT * FROM alerting.silences WHERE ends_at > now() - interval '1 minute'")
    )
    ctx.live.silences = [silence_from_row(r) for r in rows]
    await conn.execute(
        sa.text(
            "UPDATE alerting.groups SET next_flush_at = LEAST(next_flush_at, now()) WHERE key IN "
            "(SELECT g.group_key FROM alerting.group_alerts g JOIN alerting.silences s "
            "ON g.alert_id = ANY(s.matched) WHERE s.id = ANY(:ids))"
        ),
        {"ids": list(silence_ids)},
    )
    ctx.dispatch_wake.set()
