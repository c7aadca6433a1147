"""Shift arithmetic of on-call schedules, by hand across both DST changes of 2026 in Berlin and
New York, and against dateutil's rrule over random rotations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from dateutil import rrule
from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.domain.schedules import (
    WHOLE_SCHEDULE,
    Override,
    Rotation,
    Schedule,
    Shift,
    on_call,
    shifts,
)
from pacta.calendars import Calendar
from pacta.durations import parse_duration, parse_timestamp_ms

BERLIN, NEW_YORK = "Europe/Berlin", "America/New_York"
OFFICE = Calendar(
    name="office",
    timezone=BERLIN,
    hours={d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
)
CALENDARS = {"office": OFFICE}


def ms(text: str) -> int:
    return parse_timestamp_ms(text)


def rotation(
    start: str, shift: str, users: tuple[str, ...] = ("alice", "bob"), **kw: str
) -> Rotation:
    return Rotation(
        kw.get("name", "primary"), users, ms(start), parse_duration(shift), kw.get("active")
    )


def who(schedule: Schedule, at: str) -> list[str]:
    return on_call(schedule, CALENDARS, ms(at))[0]


def the_shift(schedule: Schedule, at: str) -> tuple[int, int]:
    [s] = on_call(schedule, CALENDARS, ms(at))[1]
    return s.starts_at_ms, s.ends_at_ms


HOUR = 3_600_000


def test_weekly_hand_off_stays_at_nine_local_when_berlin_springs_forward() -> None:
    # Monday 23 March 09:00 CET is 08:00Z; Monday 30 March 09:00 CEST is 07:00Z
    s = Schedule("s", BERLIN, (rotation("2026-03-23T09:00:00+01:00", "1w"),))
    assert who(s, "2026-03-30T06:59:00Z") == ["alice"]
    assert who(s, "2026-03-30T07:00:00Z") == ["bob"]
    assert the_shift(s, "2026-03-25T12:00:00Z") == (
        ms("2026-03-23T08:00:00Z"),
        ms("2026-03-30T07:00:00Z"),
    )
    assert (ms("2026-03-30T07:00:00Z") - ms("2026-03-23T08:00:00Z")) == 167 * HOUR


def test_weekly_hand_off_stays_at_nine_local_when_berlin_falls_back() -> None:
    # Monday 19 October 09:00 CEST is 07:00Z; Monday 26 October 09:00 CET is 08:00Z
    s = Schedule("s", BERLIN, (rotation("2026-10-19T09:00:00+02:00", "1w"),))
    assert who(s, "2026-10-26T07:30:00Z") == ["alice"]  # 08:30 local: still alice
    assert who(s, "2026-10-26T08:00:00Z") == ["bob"]
    assert the_shift(s, "2026-10-26T07:30:00Z") == (
        ms("2026-10-19T07:00:00Z"),
        ms("2026-10-26T08:00:00Z"),
    )
    # and the week after, bob hands back at 09:00 CET again
    assert who(s, "2026-11-02T08:00:00Z") == ["alice"]


def test_a_daily_rotation_over_the_dst_nights_lasts_23_and_25_hours() -> None:
    spring = Schedule("s", BERLIN, (rotation("2026-03-28T09:00:00+01:00", "1d"),))
    assert the_shift(spring, "2026-03-28T12:00:00Z") == (
        ms("2026-03-28T08:00:00Z"),
        ms("2026-03-29T07:00:00Z"),
    )
    autumn = Schedule("s", BERLIN, (rotation("2026-10-24T09:00:00+02:00", "1d"),))
    a, b = the_shift(autumn, "2026-10-24T12:00:00Z")
    assert (a, b - a) == (ms("2026-10-24T07:00:00Z"), 25 * HOUR)
    assert who(autumn, "2026-10-25T07:30:00Z") == ["alice"]
    assert who(autumn, "2026-10-25T08:00:00Z") == ["bob"]


def test_new_york_changes_on_other_days_and_the_rotation_follows() -> None:
    # 2026: 8 March (EST -> EDT) and 1 November (EDT -> EST)
    weekly = Schedule("s", NEW_YORK, (rotation("2026-03-02T09:00:00-05:00", "1w"),))
    assert who(weekly, "2026-03-09T12:59:00Z") == ["alice"]
    assert who(weekly, "2026-03-09T13:00:00Z") == ["bob"]
    autumn = Schedule("s", NEW_YORK, (rotation("2026-10-26T09:00:00-04:00", "1w"),))
    assert who(autumn, "2026-11-02T13:30:00Z") == ["alice"]
    assert who(autumn, "2026-11-02T14:00:00Z") == ["bob"]
    daily = Schedule("s", NEW_YORK, (rotation("2026-03-07T09:00:00-05:00", "1d"),))
    a, b = the_shift(daily, "2026-03-07T20:00:00Z")
    assert b - a == 23 * HOUR
    daily = Schedule("s", NEW_YORK, (rotation("2026-10-31T09:00:00-04:00", "1d"),))
    a, b = the_shift(daily, "2026-10-31T20:00:00Z")
    assert b - a == 25 * HOUR


def test_sub_day_shifts_step_in_absolute_time() -> None:
    # 12h from 21:00 CET on 28 March: the hand-off falls at 08:00Z, which is 10:00 CEST
    s = Schedule("s", BERLIN, (rotation("2026-03-28T21:00:00+01:00", "12h"),))
    assert the_shift(s, "2026-03-29T03:00:00Z") == (
        ms("2026-03-28T20:00:00Z"),
        ms("2026-03-29T08:00:00Z"),
    )


def test_nobody_is_on_call_before_the_rotation_starts() -> None:
    s = Schedule("s", BERLIN, (rotation("2026-03-23T09:00:00+01:00", "1w"),))
    assert who(s, "2026-03-23T07:59:59Z") == []
    assert who(s, "2026-03-23T08:00:00Z") == ["alice"]


def test_an_override_cuts_a_shift_and_gives_it_back() -> None:
    o = Override("carol", ms("2026-03-25T10:00:00Z"), ms("2026-03-25T14:00:00Z"))
    s = Schedule("s", BERLIN, (rotation("2026-03-23T09:00:00+01:00", "1w"),), (o,))
    assert who(s, "2026-03-25T09:59:00Z") == ["alice"]
    assert who(s, "2026-03-25T10:00:00Z") == ["carol"]
    assert who(s, "2026-03-25T14:00:00Z") == ["alice"]
    week = shifts(s, CALENDARS, ms("2026-03-23T08:00:00Z"), ms("2026-03-30T07:00:00Z"))
    assert week == [
        Shift("primary", "alice", ms("2026-03-23T08:00:00Z"), ms("2026-03-25T10:00:00Z")),
        Shift(WHOLE_SCHEDULE, "carol", ms("2026-03-25T10:00:00Z"), ms("2026-03-25T14:00:00Z")),
        Shift("primary", "alice", ms("2026-03-25T14:00:00Z"), ms("2026-03-30T07:00:00Z")),
    ]


def test_several_rotations_put_several_people_on_call_and_active_leaves_gaps() -> None:
    primary = rotation("2026-03-23T09:00:00+01:00", "1w")
    secondary = rotation(
        "2026-03-23T09:00:00+01:00", "1d", ("dave", "erin"), name="secondary", active="office"
    )
    s = Schedule("s", BERLIN, (primary, secondary))
    assert who(s, "2026-03-24T10:00:00Z") == ["alice", "erin"]  # Tuesday 11:00 CET
    assert who(s, "2026-03-24T17:00:00Z") == ["alice"]  # 18:00: outside office hours
    assert who(s, "2026-03-28T10:00:00Z") == ["alice"]  # Saturday
    # the office day after the DST change: 09:00-17:00 CEST
    # (the daily turns go on over the weekend: Monday 30 March is the eighth, erin's)
    assert who(s, "2026-03-30T07:00:00Z") == ["bob", "erin"]
    assert the_shift(Schedule("s", BERLIN, (secondary,)), "2026-03-30T07:00:00Z") == (
        ms("2026-03-30T07:00:00Z"),
        ms("2026-03-30T15:00:00Z"),
    )


def test_an_override_of_one_rotation_leaves_the_others() -> None:
    primary = rotation("2026-03-23T09:00:00+01:00", "1w")
    secondary = rotation("2026-03-23T09:00:00+01:00", "1w", ("dave",), name="secondary")
    o = Override("carol", ms("2026-03-25T10:00:00Z"), ms("2026-03-25T14:00:00Z"), "secondary")
    s = Schedule("s", BERLIN, (primary, secondary), (o,))
    assert who(s, "2026-03-25T11:00:00Z") == ["alice", "carol"]


def test_an_unknown_active_calendar_leaves_that_rotation_empty() -> None:
    r = rotation("2026-03-23T09:00:00+01:00", "1w", active="gone")
    assert who(Schedule("s", BERLIN, (r,)), "2026-03-24T10:00:00Z") == []


# ---- against dateutil's rrule -----------------------------------------------------------------

ZONES = (BERLIN, NEW_YORK, "Australia/Sydney", "UTC")
SHIFTS = ("8h", "12h", "36h", "1d", "2d", "1w", "2w")


def expected(
    zone: str, start_ms: int, shift: str, n_users: int, at_ms: int
) -> tuple[int, int, int]:
    """(user index, shift start, shift end) computed with rrule, independently."""
    seconds = parse_duration(shift)
    start = datetime.fromtimestamp(start_ms / 1000, UTC)
    horizon = datetime.fromtimestamp(at_ms / 1000, UTC) + timedelta(seconds=2 * seconds)
    if seconds % 86_400 == 0:
        tz = ZoneInfo(zone)
        wall = start.astimezone(tz).replace(tzinfo=None)
        rule = rrule.rrule(rrule.DAILY, interval=seconds // 86_400, dtstart=wall)
        until = horizon.astimezone(tz).replace(tzinfo=None)
        times = [wall] + [w.replace(tzinfo=tz).astimezone(UTC) for w in rule.between(wall, until)]
        times[0] = start
    else:
        rule = rrule.rrule(rrule.HOURLY, interval=seconds // 3600, dtstart=start)
        times = list(rule.between(start, horizon, inc=True))
    edges = [int(t.timestamp() * 1000) for t in times]
    k = max(i for i, e in enumerate(edges) if e <= at_ms)
    return k % n_users, edges[k], edges[k + 1]


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    start_min=st.integers(0, 365 * 24 * 60),
    shift=st.sampled_from(SHIFTS),
    n_users=st.integers(1, 4),
    later_min=st.integers(0, 200 * 24 * 60),
)
def test_hand_offs_agree_with_rrule(
    zone: str, start_min: int, shift: str, n_users: int, later_min: int
) -> None:
    start_ms = ms("2026-01-01T00:00:00Z") + start_min * 60_000
    users = tuple(f"u{i}" for i in range(n_users))
    s = Schedule("s", zone, (Rotation("r", users, start_ms, parse_duration(shift)),))
    at = start_ms + later_min * 60_000
    index, a, b = expected(zone, start_ms, shift, n_users, at)
    [got] = on_call(s, {}, at)[1]
    assert (got.user, got.starts_at_ms, got.ends_at_ms) == (users[index], a, b)


def test_the_worked_example_of_the_docs() -> None:
    """docs/oncall.md: a weekly primary, a follow-the-sun secondary, carol's override."""
    week = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    calendars = {
        "berlin-office": Calendar("berlin-office", BERLIN, week),
        "nyc-office": Calendar("nyc-office", NEW_YORK, week),
    }
    s = Schedule(
        "payments",
        BERLIN,
        (
            rotation("2026-10-19T09:00:00+02:00", "1w"),
            rotation(
                "2026-10-19T09:00:00+02:00",
                "1d",
                ("dana", "erik"),
                name="secondary-emea",
                active="berlin-office",
            ),
            rotation(
                "2026-10-19T09:00:00-04:00",
                "1d",
                ("frank", "gina"),
                name="secondary-americas",
                active="nyc-office",
            ),
        ),
        (Override("carol", ms("2026-10-21T10:00:00Z"), ms("2026-10-22T07:00:00Z"), "primary"),),
    )
    table = {
        "2026-10-21T10:00:00+02:00": ["alice", "dana"],
        "2026-10-21T16:00:00+02:00": ["carol", "dana", "frank"],
        "2026-10-21T20:00:00+02:00": ["carol", "frank"],
        "2026-10-22T03:00:00+02:00": ["carol"],
        "2026-10-26T08:30:00+01:00": ["alice"],
        "2026-10-26T09:00:00+01:00": ["bob", "erik"],
        "2026-10-26T16:00:00+01:00": ["bob", "erik", "gina"],
    }
    for at, users in table.items():
        assert on_call(s, calendars, ms(at))[0] == users, at


@settings(max_examples=200, deadline=None)
@given(
    cuts=st.lists(st.integers(0, 60 * 24 * 60), min_size=0, max_size=12, unique=True),
    later_min=st.integers(0, 60 * 24 * 60),
)
def test_overrides_replace_exactly_their_intervals(cuts: list[int], later_min: int) -> None:
    """Non-overlapping overrides from sorted cut points: inside one its user is on call,
    outside every one the rotation's user is, and the shifts of a range tile it."""
    base = ms("2026-03-23T08:00:00Z")
    edges = sorted(cuts)
    windows = [
        (base + a * 60_000, base + b * 60_000)
        for a, b in zip(edges[::2], edges[1::2], strict=False)
    ]
    overrides = tuple(Override(f"o{i}", a, b) for i, (a, b) in enumerate(windows))
    r = rotation("2026-03-23T09:00:00+01:00", "1d")
    s = Schedule("s", BERLIN, (r,), overrides)
    at = base + later_min * 60_000
    inside = [o.user for o in overrides if o.starts_at_ms <= at < o.ends_at_ms]
    plain = on_call(Schedule("s", BERLIN, (r,)), {}, at)[0]
    assert on_call(s, {}, at)[0] == (inside or plain)
    # the shifts of a range cover it without gaps or overlaps
    end = base + 61 * 86_400_000
    tiles = shifts(s, {}, base, end)
    assert tiles[0].starts_at_ms == base
    assert all(x.ends_at_ms == y.starts_at_ms for x, y in pairwise(tiles))
    assert tiles[-1].ends_at_ms >= end
