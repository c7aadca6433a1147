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
from pacta.durations import datetime_to_ms, ms_to_datetime, parse_timestamp_ms
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


async def changed_many(conn: AsyncConnection, keys: Sequence[str], now_ms: int) -> None:
    """Alerts of these groups joined, changed or resolved: bring their next flush forward."""
    if not keys:
        return
    rows = await conn.execute(
        sa.text("SELECT * FROM alerting.groups WHERE key = ANY(:k) ORDER BY key FOR UPDATE"),
        {"k": list(keys)},
    )
    moved = []
    for row in rows:
        state = grouping.on_change(_state(row), now_ms, timing_of(row.options))
        if state.next_flush_at_ms != datetime_to_ms(row.next_flush_at):
            moved.append({"n": ms_to_datetime(state.next_flush_at_ms), "k": row.key})
    if moved:
        await conn.execute(
            sa.text(
                "UPDATE alerting.groups g SET next_flush_at = x.n FROM "
                + store.recordset("k text, n timestamptz")
                + " WHERE g.key = x.k"
            ),
            {"rows": store.jsonb(moved)},
        )


async def flush_due(
    conn: AsyncConnection,
    ctx: Context,
    now_ms: int,
    keys: Sequence[str] | None = None,
    limit: int = 500,
    leased: list[Any] | None = None,
) -> int:
    """Flush the groups due at `now_ms` (only `keys` if given); a group another instance is
    flushing right now is skipped. Returns how many deliveries were queued. With `leased`,
    deliveries this process's worker has room for are written leased to it and added there,
    for the caller to hand over once its transaction committed."""
    where = "next_flush_at <= :now" + (" AND key = ANY(:keys)" if keys is not None else "")
    if keys is not None:
        # the consumer's own groups: every one of them now, none left for the timer's next round
        limit = max(limit, len(keys))
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
    members = await _members(conn, [r.key for r in rows])
    sources = await store.open_alert_labels(conn) if ctx.live.inhibit else []
    batch = _Batch()
    for row in rows:
        try:
            _flush(ctx, row, members.get(row.key, []), now_ms, sources, batch)
        except Exception:
            # a group the code cannot decide must not hold up the others
            log.exception("group flush failed; retried in a minute", group=row.key)
            batch.updates.append(
                {**_group_params(row, None), "next": ms_to_datetime(now_ms + 60_000)}
            )
    if leased is not None:
        room: dict[str, int] = {}
        for d in batch.deliveries:
            left = room.setdefault(d["receiver"], ctx.delivery_room(d["receiver"]))
            d["lease"] = left > 0
            room[d["receiver"]] = left - 1
    leased_rows = await batch.write(conn, now_ms)
    if leased is not None:
        leased += leased_rows
    ALERTS_NOTIFIED.inc(batch.entries)
    return len(batch.deliveries)


class _Batch:
    """What one round of flushes writes, one statement per kind."""

    def __init__(self) -> None:
        self.deliveries: list[dict[str, Any]] = []
        self.receivers: list[tuple[str, list[str]]] = []
        self.history: list[tuple[str, int, str, dict[str, Any]]] = []
        self.drops: list[tuple[str, str]] = []
        self.updates: list[dict[str, Any]] = []
        self.ended: list[str] = []
        self.silenced: list[tuple[str, str]] = []
        self.entries = 0

    async def write(self, conn: AsyncConnection, now_ms: int) -> list[Any]:
        leased = []
        if self.deliveries:
            leased = await queue.enqueue_many(
                conn,
                self.deliveries,
                lease_until=ms_to_datetime(now_ms + queue.LEASE_MS),
                leased=sum(bool(d.get("lease")) for d in self.deliveries),
            )
        await store.add_receivers_many(conn, self.receivers)
        await store.add_history(conn, self.history)
        if self.drops:
            await conn.execute(
                sa.text(
                    "DELETE FROM alerting.group_alerts WHERE (group_key, alert_id) IN "
                    "(SELECT * FROM unnest(CAST(:g AS text[]), CAST(:a AS text[])))"
                ),
                {"g": [g for g, _ in self.drops], "a": [a for _, a in self.drops]},
            )
        if self.ended:
            await conn.execute(
                sa.text("DELETE FROM alerting.groups WHERE key = ANY(:k)"), {"k": self.ended}
            )
            await conn.execute(
                sa.text("DELETE FROM alerting.group_alerts WHERE group_key = ANY(:k)"),
                {"k": self.ended},
            )
        if self.updates:
            await conn.execute(
                sa.text(
                    "UPDATE alerting.groups g SET next_flush_at = x.next, first_flush_at = "
                    "x.first, last_sent_at = x.sent, notified = x.notified, seq = x.seq FROM "
                    + store.recordset(
                        "k text, next timestamptz, first timestamptz, sent timestamptz, "
                        "notified text[], seq integer"
                    )
                    + " WHERE g.key = x.k"
                ),
                {"rows": store.jsonb(self.updates)},
            )
        for silence_id, alert_id in self.silenced:
            await store.note_silenced(conn, [silence_id], alert_id)
        return leased


def _group_params(row: Any, state: grouping.GroupState | None) -> dict[str, Any]:
    s = state or _state(row)
    return {
        "next": ms_to_datetime(s.next_flush_at_ms),
        "first": ms_to_datetime(s.first_flush_at_ms) if s.first_flush_at_ms else None,
        "sent": ms_to_datetime(s.last_sent_at_ms) if s.last_sent_at_ms else None,
        "notified": sorted(s.notified),
        "seq": s.seq,
        "k": row.key,
    }


def _mute_reason(
    ctx: Context, alert: Alert, sources: list[tuple[str, dict[str, str]]], now_ms: int
) -> tuple[str | None, list[muting.Silence]]:
    silences = muting.silenced_by(ctx.live.silences, alert.labels, now_ms)
    if silences:
        return "silenced", silences
    if ctx.live.inhibit and muting.inhibited(ctx.live.inhibit, alert.id, alert.labels, sources):
        return "inhibited", []
    return None, []


async def _members(conn: AsyncConnection, keys: Sequence[str]) -> dict[str, list[Alert]]:
    rows = await conn.execute(
        sa.text(
            "SELECT g.group_key, a.* FROM alerting.group_alerts g JOIN alerting.alerts a "
            "ON g.alert_id = a.id WHERE g.group_key = ANY(:k) ORDER BY a.fired_at, a.id"
        ),
        {"k": list(keys)},
    )
    out: dict[str, list[Alert]] = {}
    for r in rows:
        out.setdefault(r.group_key, []).append(store.alert_from_row(r))
    return out


def _flush(
    ctx: Context,
    row: Any,
    alerts: list[Alert],
    now_ms: int,
    sources: list[tuple[str, dict[str, str]]],
    batch: _Batch,
) -> None:
    options = row.options
    members, wake = [], None
    for alert in alerts:
        reason, silences = _mute_reason(ctx, alert, sources, now_ms) if alert.open else (None, [])
        if silences:
            batch.silenced += [(s.id, alert.id) for s in silences]
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
    before = _state(row)
    decision = grouping.flush(
        before, members, now_ms, timing_of(options), time_muted=muted, wake_at_ms=wake
    )
    if decision.send:
        _notify(ctx, row, before, alerts, decision, now_ms, batch)
    batch.drops += [(row.key, a) for a in decision.drop]
    if decision.state is None:
        batch.ended.append(row.key)
    else:
        batch.updates.append(_group_params(row, decision.state))


def idempotency_key(*parts: object) -> str:
    raw = "\x00".join(str(p) for p in parts)
    return "pacta-" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def newest_detected(alerts: Sequence[Alert], ids: set[str]) -> Any:
    found = [
        parse_timestamp_ms(str(a.signal["detected_at"]))
        for a in alerts
        if a.id in ids and a.signal.get("detected_at")
    ]
    return ms_to_datetime(max(found)) if found else None


def _notify(
    ctx: Context,
    row: Any,
    before: grouping.GroupState,
    alerts: Sequence[Alert],
    decision: grouping.Flush,
    now_ms: int,
    batch: _Batch,
) -> None:
    by_id = {a.id: a for a in alerts}
    entries = [ctx.entry(by_id[i], by_id[i].state, now_ms) for i in decision.firing]
    entries += [ctx.entry(by_id[i], "resolved", now_ms) for i in decision.resolved]
    status = "firing" if decision.firing else "resolved"
    told = {grouping.alert_of(f) for f in before.notified}
    # what is news in this notification: the latency metric measures from its detection
    fresh = {
        a.id
        for a in alerts
        if a.id in decision.firing
        and grouping.fingerprint(a.id, str(a.signal.get("signal_id"))) not in before.notified
    } | (set(decision.resolved) & told)
    key = idempotency_key("group", row.key, row.created_at, decision.seq)
    batch.deliveries.append(
        {
            "key": key,
            "receiver": row.receiver,
            "group_key": row.key,
            "status": status,
            "alerts": entries,
            "now": ms_to_datetime(now_ms),
            "detected_at": newest_detected(alerts, fresh),
        }
    )
    ids = [*decision.firing, *decision.resolved]
    batch.receivers.append((row.receiver, ids))
    detail = {"receiver": row.receiver, "idempotency_key": key, "status": status}
    batch.history += [(i, now_ms, "notified", detail) for i in ids]
    batch.entries += len(ids)
