"""Aggregation groups and their timing, as Alertmanager's dispatcher and dedup stage: the first
flush `group_wait` after the group forms, then a tick every `group_interval`, a notification
when the set of firing alerts grew or an alert resolved, and again every `repeat_interval`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Member:
    """One alert of a group as the flush sees it."""

    alert_id: str
    fingerprint: str  # alert id and its latest firing signal: a new signal is news
    resolved: bool
    acknowledged: bool = False
    muted: bool = False  # silenced or inhibited right now


@dataclass(frozen=True)
class GroupState:
    created_at_ms: int
    next_flush_at_ms: int
    first_flush_at_ms: int | None = None
    last_sent_at_ms: int | None = None
    notified: frozenset[str] = frozenset()  # fingerprints last sent as firing
    seq: int = 0  # notifications sent: numbers the next delivery's idempotency key


@dataclass(frozen=True)
class Timing:
    group_wait_ms: int
    group_interval_ms: int
    repeat_interval_ms: int


def formed(now_ms: int, timing: Timing) -> GroupState:
    """A new group: its first flush waits `group_wait` to collect what comes with it."""
    return GroupState(created_at_ms=now_ms, next_flush_at_ms=now_ms + timing.group_wait_ms)


def on_change(state: GroupState, now_ms: int, timing: Timing) -> GroupState:
    """An alert joined, changed or resolved: it is picked up at the next tick (never sooner
    than the first flush, never later than one group_interval)."""
    if state.first_flush_at_ms is None:
        return state
    tick = next_tick(state, now_ms, timing)
    return replace(state, next_flush_at_ms=min(state.next_flush_at_ms, tick))


def next_tick(state: GroupState, now_ms: int, timing: Timing) -> int:
    """The first tick (first flush + k * group_interval) at or after `now_ms`."""
    first = state.first_flush_at_ms if state.first_flush_at_ms is not None else now_ms
    return _tick(first, now_ms, timing)


def _tick(first: int, now_ms: int, timing: Timing) -> int:
    if now_ms <= first:
        return first
    steps = -(-(now_ms - first) // timing.group_interval_ms)
    return first + steps * timing.group_interval_ms


def fingerprint(alert_id: str, signal_id: str) -> str:
    return f"{alert_id}|{signal_id}"


def alert_of(fingerprint: str) -> str:
    return fingerprint.split("|", 1)[0]


@dataclass(frozen=True)
class Flush:
    send: bool
    firing: tuple[str, ...]  # alert ids in the notification as firing
    resolved: tuple[str, ...]  # alert ids in the notification as resolved
    drop: tuple[str, ...]  # resolved alerts that leave the group
    state: GroupState | None  # None: the group is empty and ends
    seq: int = 0  # the number of this notification in the group (when sent)


def flush(
    state: GroupState,
    members: Sequence[Member],
    now_ms: int,
    timing: Timing,
    *,
    time_muted: bool = False,
    wake_at_ms: int | None = None,
) -> Flush:
    """Decide one flush. `time_muted`: the route is outside its active or inside a mute time
    interval, so nothing is sent and nothing leaves. `wake_at_ms`: an earlier instant worth
    looking again (a silence ending, a calendar turning)."""
    # the state after the flush is built once, at the end (a flush per group per batch)
    first = state.first_flush_at_ms if state.first_flush_at_ms is not None else now_ms
    upcoming = _tick(first, now_ms + 1, timing)
    if wake_at_ms is not None and now_ms < wake_at_ms < upcoming:
        upcoming = wake_at_ms
    if time_muted:
        ticked = replace(state, first_flush_at_ms=first, next_flush_at_ms=upcoming)
        return Flush(False, (), (), (), ticked if members else None, state.seq)
    live = [m for m in members if not m.resolved and not m.muted]
    firing = tuple(sorted(m.alert_id for m in live))
    prints = frozenset(m.fingerprint for m in live)
    told = {alert_of(f) for f in state.notified}
    # a resolve is news only to a receiver that was told the alert fired
    resolved = tuple(sorted(m.alert_id for m in members if m.resolved and m.alert_id in told))
    drop = tuple(sorted(m.alert_id for m in members if m.resolved))
    unacked = any(not m.acknowledged for m in live)
    grew = not prints <= state.notified
    # muted alerts the receiver was told about stay told: their resolve is still news
    muted = {m.alert_id for m in members if m.muted and not m.resolved}
    still_told = frozenset(f for f in state.notified if alert_of(f) in muted)
    repeat_due = (
        state.last_sent_at_ms is not None
        and now_ms >= state.last_sent_at_ms + timing.repeat_interval_ms
    )
    send = grew or bool(resolved) or (bool(firing) and unacked and repeat_due)
    notified, last_sent_at_ms, seq = state.notified, state.last_sent_at_ms, state.seq
    if send:
        notified, last_sent_at_ms, seq = prints | still_told, now_ms, state.seq + 1
    next_flush_at_ms = upcoming
    if not any(m.muted for m in members) and last_sent_at_ms is not None:
        # nothing held back: until an alert changes (which brings the flush forward) the next
        # thing that can happen is the repeat, so the group sleeps until that tick
        repeat_at = last_sent_at_ms + timing.repeat_interval_ms
        if next_flush_at_ms < repeat_at:
            asleep = _tick(first, repeat_at, timing)
            if wake_at_ms is not None and now_ms < wake_at_ms < asleep:
                asleep = wake_at_ms
            next_flush_at_ms = asleep
    after = GroupState(
        created_at_ms=state.created_at_ms,
        next_flush_at_ms=next_flush_at_ms,
        first_flush_at_ms=first,
        last_sent_at_ms=last_sent_at_ms,
        notified=notified,
        seq=seq,
    )
    left = len(members) - len(drop)
    return Flush(
        send,
        firing if send else (),
        resolved if send else (),
        drop,
        after if left else None,
        after.seq,
    )
