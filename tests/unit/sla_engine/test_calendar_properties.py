"""Properties of calendar arithmetic, checked with hypothesis and a per-minute oracle."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from pacta.calendars import (
    CALENDAR_24X7,
    WEEKDAYS,
    Calendar,
    add_working_ms,
    is_working,
    next_transition,
    working_intervals,
    working_ms,
)
from pacta.durations import datetime_to_ms

H = 3_600_000
CALENDARS = [
    CALENDAR_24X7,
    Calendar(
        "berlin-office",
        "Europe/Berlin",
        {d: ["09:00-12:30", "13:15-17:00"] for d in WEEKDAYS[:5]},
        holidays=["2026-12-24", "2026-12-25", "2027-01-01"],
        holiday_country="DE",
    ),
    Calendar(
        "ny-nights",
        "America/New_York",
        {"sat": ["20:00-24:00"], "sun": ["00:00-03:30", "23:00-24:00"], "mon": ["00:00-01:00"]},
    ),
    Calendar("berlin-all-day", "Europe/Berlin", holidays=["2026-03-29", "2026-06-01"]),
    Calendar("lord-howe", "Australia/Lord_Howe", {"sun": ["01:00-03:00"], "wed": ["10:00-11:00"]}),
    Calendar("kolkata", "Asia/Kolkata", {d: ["10:00-18:30"] for d in WEEKDAYS[:6]}),
]
# around 2026, with extra weight on the DST changes in Berlin and New York
LOW = datetime_to_ms(datetime(2025, 12, 1, tzinfo=ZoneInfo("UTC")))
HIGH = datetime_to_ms(datetime(2027, 2, 1, tzinfo=ZoneInfo("UTC")))
DST = [
    datetime_to_ms(datetime(2026, m, d, tzinfo=ZoneInfo("UTC")))
    for m, d in ((3, 8), (3, 29), (10, 25), (11, 1), (4, 5), (10, 4))
]
calendars = st.sampled_from(CALENDARS)
instants = st.one_of(
    st.integers(LOW, HIGH),
    st.builds(
        lambda base, off: base + off,
        st.sampled_from(DST),
        st.integers(-2 * 86_400_000, 2 * 86_400_000),
    ),
)
amounts = st.one_of(st.integers(0, 3 * H), st.integers(0, 60 * 24 * H))
FAST = settings(max_examples=200, deadline=None)


@FAST
@given(calendars, instants, instants, instants)
def test_working_time_is_additive(cal: Calendar, a: int, b: int, c: int) -> None:
    a, b, c = sorted((a, b, c))
    assert working_ms(cal, a, c) == working_ms(cal, a, b) + working_ms(cal, b, c)
    assert 0 <= working_ms(cal, a, c) <= c - a


@FAST
@given(calendars, instants, amounts)
def test_add_working_ms_is_the_earliest_inverse(cal: Calendar, start: int, amount: int) -> None:
    end = add_working_ms(cal, start, amount)
    assert end >= start
    assert working_ms(cal, start, end) == amount
    if amount:
        assert working_ms(cal, start, end - 1) == amount - 1
        assert is_working(cal, end - 1)


@FAST
@given(calendars, instants, st.integers(0, 20 * 24 * H))
def test_intervals_agree_with_working_ms_and_is_working(
    cal: Calendar, start: int, span: int
) -> None:
    spans = list(working_intervals(cal, start, start + span))
    assert sum(e - s for s, e in spans) == working_ms(cal, start, start + span)
    for (_, end), (next_start, _) in pairwise(spans):
        assert end < next_start  # merged: never touching
    for s, e in spans:
        assert is_working(cal, s)
        assert is_working(cal, e - 1)
        if e < start + span:
            assert not is_working(cal, e)


@FAST
@given(calendars, instants)
def test_next_transition_flips_working_ness(cal: Calendar, t: int) -> None:
    change = next_transition(cal, t)
    if change is None:
        # never changes again: all time from here on is working time (e.g. after the last holiday)
        assert is_working(cal, t)
        assert working_ms(cal, t, t + 400 * 24 * H) == 400 * 24 * H
        return
    assert change > t
    assert is_working(cal, change) != is_working(cal, t)
    assert is_working(cal, change - 1) == is_working(cal, t)
    assert working_ms(cal, t, change) in (0, change - t)


def _oracle_minutes(cal: Calendar, start: int, minutes: int) -> int:
    """Count working minutes by asking zoneinfo for the local wall time of every minute."""
    counted = 0
    for i in range(minutes):
        local = datetime.fromtimestamp((start + i * 60_000) / 1000, cal.zone)
        if cal.is_holiday(local.date()):
            continue
        minute = local.hour * 60 + local.minute
        counted += any(s <= minute < e for s, e in cal.week[local.weekday()])
    return counted


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(
        [c for c in CALENDARS if c.name in ("berlin-office", "berlin-all-day", "kolkata")]
    ),
    st.one_of(
        st.sampled_from(DST), st.integers(LOW // 60_000, HIGH // 60_000).map(lambda m: m * 60_000)
    ),
    st.integers(0, 3 * 24 * 60),
)
def test_working_ms_matches_a_per_minute_oracle(cal: Calendar, start: int, minutes: int) -> None:
    # these calendars' span edges never fall in a repeated hour, so wall minutes are unambiguous
    assert (
        working_ms(cal, start, start + minutes * 60_000)
        == _oracle_minutes(cal, start, minutes) * 60_000
    )
