"""On-call schedules as plain values: rotations hand over at the same local wall time in the
schedule's zone, `active` calendars leave gaps, overrides cut shifts; who is on call when."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pacta.calendars import Calendar, working_intervals

DAY_S = 86_400
WHOLE_SCHEDULE = "override"
"""The `rotation` a shift of an override names when the override covers every rotation."""


@dataclass(frozen=True)
class Rotation:
    """`users` take turns, one shift each, from `start_ms` on; nobody before it. `active`
    names a calendar outside whose working time this rotation has nobody on call."""

    name: str
    users: tuple[str, ...]
    start_ms: int
    shift_s: int
    active: str | None = None


@dataclass(frozen=True)
class Override:
    """`user` is on call in [starts_at_ms, ends_at_ms) instead of whoever the rotations name
    (of one rotation when `rotation` is set, of every rotation otherwise)."""

    user: str
    starts_at_ms: int
    ends_at_ms: int
    rotation: str | None = None


@dataclass(frozen=True)
class Schedule:
    name: str
    timezone: str
    rotations: tuple[Rotation, ...]
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True)
class Shift:
    rotation: str
    user: str
    starts_at_ms: int
    ends_at_ms: int


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def _to_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _MS


def hand_off_ms(rotation: Rotation, zone: ZoneInfo, k: int) -> int:
    """The instant shift `k` begins. Whole days and weeks step in local calendar time (the
    same wall time each time, so a day across a DST change lasts 23 or 25 hours); any other
    length steps in absolute time. A wall time the clocks skip is read with the offset before
    the change (02:30 on the spring-forward night is 03:30 summer time)."""
    if k == 0:
        return rotation.start_ms
    if rotation.shift_s % DAY_S:
        return rotation.start_ms + k * rotation.shift_s * 1000
    start = (_EPOCH + rotation.start_ms * _MS).astimezone(zone)
    wall = start.replace(tzinfo=None) + timedelta(days=k * rotation.shift_s // DAY_S)
    return _to_ms(wall.replace(tzinfo=zone, fold=0))


def shift_index(rotation: Rotation, zone: ZoneInfo, t_ms: int) -> int:
    """The shift in force at `t_ms` (negative before the rotation starts)."""
    if t_ms < rotation.start_ms:
        return -1
    k = (t_ms - rotation.start_ms) // (rotation.shift_s * 1000)
    # a local-time step differs from its nominal length by at most a few hours a shift
    while k > 0 and hand_off_ms(rotation, zone, k) > t_ms:
        k -= 1
    while hand_off_ms(rotation, zone, k + 1) <= t_ms:
        k += 1
    return int(k)


def rotation_shifts(
    rotation: Rotation, zone: ZoneInfo, from_ms: int, to_ms: int
) -> Iterator[Shift]:
    """The rotation's whole shifts overlapping [from_ms, to_ms), before calendars and
    overrides."""
    if to_ms <= rotation.start_ms or not rotation.users:
        return
    k = max(shift_index(rotation, zone, from_ms), 0)
    begin = hand_off_ms(rotation, zone, k)
    while begin < to_ms:
        end = hand_off_ms(rotation, zone, k + 1)
        user = rotation.users[k % len(rotation.users)]
        yield Shift(rotation.name, user, begin, end)
        k, begin = k + 1, end


def _subtract(pieces: list[tuple[int, int]], holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    for low, high in holes:
        cut: list[tuple[int, int]] = []
        for a, b in pieces:
            if high <= a or b <= low:
                cut.append((a, b))
                continue
            if a < low:
                cut.append((a, low))
            if high < b:
                cut.append((high, b))
        pieces = cut
    return pieces


def shifts(
    schedule: Schedule, calendars: Mapping[str, Calendar], from_ms: int, to_ms: int
) -> list[Shift]:
    """Every shift overlapping [from_ms, to_ms), whole (not clipped to the range), ordered by
    start then rotation. A rotation whose `active` calendar is unknown has nobody on call."""
    zone = ZoneInfo(schedule.timezone)
    out: list[Shift] = []
    for rotation in schedule.rotations:
        calendar = calendars.get(rotation.active) if rotation.active is not None else None
        if rotation.active is not None and calendar is None:
            continue
        # overrides do not overlap, so sorted by start they are sorted by end too: the ones
        # a shift meets are one slice, found by bisection
        holes = sorted(
            (o.starts_at_ms, o.ends_at_ms)
            for o in schedule.overrides
            if o.rotation in (None, rotation.name)
        )
        starts, ends = [h[0] for h in holes], [h[1] for h in holes]
        for raw in rotation_shifts(rotation, zone, from_ms, to_ms):
            pieces = [(raw.starts_at_ms, raw.ends_at_ms)]
            if calendar is not None:
                # outside the calendar's working time this rotation has nobody on call
                pieces = list(working_intervals(calendar, raw.starts_at_ms, raw.ends_at_ms))
            met = holes[bisect_right(ends, raw.starts_at_ms) : bisect_left(starts, raw.ends_at_ms)]
            for a, b in _subtract(pieces, met):
                if a < to_ms and b > from_ms:
                    out.append(Shift(rotation.name, raw.user, a, b))
    for o in schedule.overrides:
        if o.starts_at_ms < to_ms and o.ends_at_ms > from_ms:
            out.append(Shift(o.rotation or WHOLE_SCHEDULE, o.user, o.starts_at_ms, o.ends_at_ms))
    order = {r.name: i for i, r in enumerate(schedule.rotations)}
    out.sort(key=lambda s: (s.starts_at_ms, order.get(s.rotation, -1), s.user))
    return out


def on_call(
    schedule: Schedule, calendars: Mapping[str, Calendar], at_ms: int
) -> tuple[list[str], list[Shift]]:
    """Who is on call at `at_ms` (each once, in rotation order) and the shifts that say so."""
    now = [s for s in shifts(schedule, calendars, at_ms, at_ms + 1) if s.starts_at_ms <= at_ms]
    order = {r.name: i for i, r in enumerate(schedule.rotations)}
    now.sort(key=lambda s: (order.get(s.rotation, -1), s.user))
    users = list(dict.fromkeys(s.user for s in now))
    return users, now
