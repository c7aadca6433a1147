"""Aggregation groups flushed into deliveries: the stored shell around `domain.grouping`, with
silences, inhibition and time intervals deciding what a flush may send."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from alerting import store
from alerting.context import Context
from alerting.domain import grouping, muting
from alerting.domain.alerts import Alert
from alerting.metrics import ALERTS_NOTIFIED
from alerting.store.alerts import HistoryEntry
from alerting.store.deliveries import LEASE_MS, DeliveryRow, NewDelivery, Status
from alerting.store.groups import GroupRow, NewGroup
from pacta.durations import datetime_to_ms, ms_to_datetime
from pacta.logs import get_logger

log = get_logger(__name__)


async def changed_many(
    conn: AsyncConnection,
    keys: Sequence[str],
    now_ms: int,
    joining: Sequence[tuple[str, str]] = (),
) -> list[GroupRow]:
    """Alerts of these groups joined, changed or resolved: bring their next flush forward.
    The groups, locked for this transaction and with their next flush moved; the (group key,
    alert id) pairs `joining` are written as memberships by the same statement (every key
    among `keys`)."""
    if not keys:
        return []
    moved, rows = [], []
    for row in await store.groups.lock(conn, keys=keys, joining=joining):
        state = grouping.on_change(row.state, now_ms, row.options.timing)
        if state.next_flush_at_ms != row.state.next_flush_at_ms:
            moved.append((row.key, state.next_flush_at_ms))
            row = replace(row, state=state)
        rows.append(row)
    await store.groups.move_next_flush(conn, moves=moved)
    return rows


async def flush_due(
    conn: AsyncConnection,
    ctx: Context,
    now_ms: int,
    keys: Sequence[str] | None = None,
    limit: int = 500,
    leased: list[DeliveryRow] | None = None,
    known: Mapping[str, Alert] | None = None,
    locked: Sequence[GroupRow] | None = None,
    members_of: Mapping[str, list[Alert]] | None = None,
    history: Sequence[HistoryEntry] = (),
    unsaved: Sequence[tuple[Alert, Sequence[str]]] = (),
    forming: Sequence[NewGroup] = (),
    next_flushes: list[int] | None = None,
) -> int:
    """Flush the groups due at `now_ms` (only `keys` if given); a group another instance is
    flushing right now is skipped. Returns how many deliveries were queued. With `leased`,
    deliveries this process's worker has room for are written leased to it and added there,
    for the caller to hand over once its transaction committed. `known` are alerts as the
    caller's transaction wrote them (by id), not read back; `locked` are groups the caller
    locked and read already (`changed_many`): the due ones among them flush, none is read again.
    `members_of` are the members of groups the caller formed (by key), not read back; `history`
    are the caller's entries, written first with the flush's own; `unsaved` are open alerts
    the caller changed (with the ids of the signals applied) and leaves to the flush to write,
    with the receivers it notifies (among `known`); `forming` are groups the caller found
    missing (among `locked`), written with their state after the flush. With `next_flushes`,
    the next flush of each group flushed now is added there (when the timers must look
    again)."""
    if locked is not None:
        rows = sorted(
            (r for r in locked if r.state.next_flush_at_ms <= now_ms),
            key=lambda r: r.state.next_flush_at_ms,
        )
    else:
        if keys is not None:
            # the consumer's own groups: every one of them now, none left for the timer's round
            limit = max(limit, len(keys))
        rows = await store.groups.due(conn, now_ms=now_ms, keys=keys, limit=limit)
    if not rows:
        await store.flushes.write(
            conn,
            deliveries=(),
            lease_until=ms_to_datetime(now_ms + LEASE_MS),
            alerts=unsaved,
            receivers={},
            history=history,
            groups=forming,
            states={},
        )
        return 0
    given = members_of or {}
    members = dict(given)
    others = [r.key for r in rows if r.key not in given]
    if others:
        members |= await store.groups.members(conn, keys=others, known=known)
    sources = await _inhibit_sources(conn, unsaved) if ctx.live.inhibit else []
    # with `leased`, each delivery is written leased while the worker has room for its receiver
    batch = _Batch(ctx.delivery_room if leased is not None else None)
    batch.history += history
    batch.unsaved = unsaved
    batch.forming = forming
    for row in rows:
        try:
            _flush(ctx, row, members.get(row.key, []), now_ms, sources, batch)
        except Exception:
            # a group the code cannot decide must not hold up the others
            log.exception("group flush failed; retried in a minute", group=row.key)
            batch.states.append((row.key, replace(row.state, next_flush_at_ms=now_ms + 60_000)))
    leased_rows = await batch.write(conn, now_ms)
    if leased is not None:
        leased += leased_rows
    if next_flushes is not None:
        next_flushes += [state.next_flush_at_ms for _, state in batch.states]
    ALERTS_NOTIFIED.inc(batch.entries)
    return len(batch.deliveries)


async def _inhibit_sources(
    conn: AsyncConnection, unsaved: Sequence[tuple[Alert, Sequence[str]]]
) -> list[tuple[str, dict[str, str]]]:
    """The open alerts as stored, with those the caller changed and has not written yet."""
    mine = [a for a, _ in unsaved]
    ids = {a.id for a in mine}
    stored = [s for s in await store.alerts.open_labels(conn) if s[0] not in ids]
    return stored + [(a.id, dict(a.labels)) for a in mine]


class _Batch:
    """What one round of flushes writes, one statement per kind."""

    def __init__(self, room_of: Callable[[str], int] | None = None) -> None:
        self.room_of = room_of
        self.room: dict[str, int] = {}  # rows the worker still takes, by receiver
        self.deliveries: list[NewDelivery] = []
        self.receivers: list[tuple[str, list[str]]] = []
        self.history: list[HistoryEntry] = []
        self.unsaved: Sequence[tuple[Alert, Sequence[str]]] = ()
        self.forming: Sequence[NewGroup] = ()
        self.drops: list[tuple[str, str]] = []
        self.states: list[tuple[str, grouping.GroupState]] = []
        self.ended: list[str] = []
        self.silenced: list[tuple[str, str]] = []
        self.entries = 0

    def lease(self, receiver: str) -> bool:
        """Whether the next delivery to this receiver is written leased to this worker."""
        if self.room_of is None:
            return False
        left = self.room.get(receiver)
        if left is None:
            left = self.room_of(receiver)
        self.room[receiver] = left - 1
        return left > 0

    async def write(self, conn: AsyncConnection, now_ms: int) -> list[DeliveryRow]:
        # the alerts not written yet are written with their receivers; the others updated.
        # The groups formed now are written with their state; one that ended is not at all.
        # The deliveries, those alerts, the history and those groups in one statement
        reached = store.alerts.reached_by(self.receivers)
        ended = set(self.ended)
        states = dict(self.states)
        leased = await store.flushes.write(
            conn,
            deliveries=self.deliveries,
            lease_until=ms_to_datetime(now_ms + LEASE_MS),
            alerts=self.unsaved,
            receivers=reached,
            history=self.history,
            groups=[g for g in self.forming if g.key not in ended],
            states=states,
        )
        for alert, _ in self.unsaved:
            reached.pop(alert.id, None)
        await store.alerts.add_receivers(conn, reached=reached)
        await store.groups.leave(conn, pairs=self.drops)
        await store.groups.end(conn, keys=self.ended)
        new = {g.key for g in self.forming}
        await store.groups.save_states(conn, states=[s for s in self.states if s[0] not in new])
        await store.silences.note_matched(conn, pairs=self.silenced)
        return leased


def _mute_reason(
    ctx: Context, alert: Alert, sources: list[tuple[str, dict[str, str]]], now_ms: int
) -> tuple[str | None, list[muting.Silence]]:
    silences = muting.silenced_by(ctx.live.silences, alert.labels, now_ms)
    if silences:
        return "silenced", silences
    if ctx.live.inhibit and muting.inhibited(ctx.live.inhibit, alert.id, alert.labels, sources):
        return "inhibited", []
    return None, []


def _flush(
    ctx: Context,
    row: GroupRow,
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
                fingerprint=grouping.fingerprint(alert.id, alert.signal.signal_id),
                resolved=not alert.open,
                acknowledged=alert.state == "acknowledged",
                muted=reason is not None,
            )
        )
    muted = False
    if options.mute or options.active:
        calendars = ctx.live.calendars
        muted = muting.time_muted(options.mute, options.active, calendars, now_ms)
        turn = muting.next_time_change([*options.mute, *options.active], calendars, now_ms)
        if turn is not None:
            wake = turn if wake is None else min(wake, turn)
    before = row.state
    decision = grouping.flush(
        before, members, now_ms, options.timing, time_muted=muted, wake_at_ms=wake
    )
    if decision.send:
        _notify(ctx, row, before, alerts, decision, now_ms, batch)
    batch.drops += [(row.key, a) for a in decision.drop]
    if decision.state is None:
        batch.ended.append(row.key)
    else:
        batch.states.append((row.key, decision.state))


def idempotency_key(*parts: object) -> str:
    raw = "\x00".join(map(str, parts))
    return "pacta-" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def newest_detected(alerts: Sequence[Alert], ids: set[str]) -> datetime | None:
    """The latest detection among these alerts' signals (to the millisecond, as signals carry
    it): what the latency metric measures a notification from."""
    found = [datetime_to_ms(a.signal.detected_at) for a in alerts if a.id in ids]
    return ms_to_datetime(max(found)) if found else None


def _notify(
    ctx: Context,
    row: GroupRow,
    before: grouping.GroupState,
    alerts: Sequence[Alert],
    decision: grouping.Flush,
    now_ms: int,
    batch: _Batch,
) -> None:
    by_id = {a.id: a for a in alerts}
    entries = [ctx.entry(by_id[i], by_id[i].state, now_ms) for i in decision.firing]
    entries += [ctx.entry(by_id[i], "resolved", now_ms) for i in decision.resolved]
    status: Status = "firing" if decision.firing else "resolved"
    # what is news in this notification: the latency metric measures from its detection
    fresh = {
        i
        for i in decision.firing
        if grouping.fingerprint(i, by_id[i].signal.signal_id) not in before.notified
    }
    if decision.resolved:
        told = {grouping.alert_of(f) for f in before.notified}
        fresh |= set(decision.resolved) & told
    key = idempotency_key("group", row.key, row.created_at, decision.seq)
    batch.deliveries.append(
        NewDelivery(
            idempotency_key=key,
            receiver=row.receiver,
            group_key=row.key,
            status=status,
            alerts=tuple(entries),
            now=ms_to_datetime(now_ms),
            detected_at=newest_detected(alerts, fresh),
            lease=batch.lease(row.receiver),
        )
    )
    ids = [*decision.firing, *decision.resolved]
    batch.receivers.append((row.receiver, ids))
    detail = {"receiver": row.receiver, "idempotency_key": key, "status": status}
    batch.history += [HistoryEntry(i, now_ms, "notified", detail) for i in ids]
    batch.entries += len(ids)
