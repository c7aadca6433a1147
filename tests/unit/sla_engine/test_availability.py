"""Availability: interval algebra, downtime and agreed time, error budget timers, burn rates."""

from __future__ import annotations

import random
from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacta.calendars import CALENDAR_24X7, WEEKDAYS, Calendar
from pacta.durations import datetime_to_ms
from sla_engine.domain.availability import (
    FAST_BURN,
    SLOW_BURN,
    Interval,
    agreed_ms,
    availability_pct,
    budget_alert_instants,
    budget_exhaustion_instant,
    budget_ms,
    burn_alerts,
    burn_rate,
    clip,
    crossing_instant,
    downtime_ms,
    month_bounds,
    subtract,
    threshold_ms,
    union,
)

S = 1_000
M = 60_000
H = 3_600_000
JUNE = month_bounds("2026-06", "UTC")
NOON = datetime_to_ms(datetime(2026, 6, 10, 12, tzinfo=ZoneInfo("UTC")))
OFFICE = Calendar("office", "UTC", {d: ["09:00-17:00"] for d in WEEKDAYS[:5]})


def test_union_merges_overlapping_and_touching_intervals() -> None:
    assert union([(5, 7), (1, 3), (3, 4), (6, 9), (20, 20), (12, 10)]) == [(1, 4), (5, 9)]
    assert union([]) == []


def test_subtract_and_clip() -> None:
    assert subtract([(0, 10), (20, 30)], [(2, 4), (8, 22), (29, 40)]) == [(0, 2), (4, 8), (22, 29)]
    assert subtract([(0, 10)], []) == [(0, 10)]
    assert subtract([(0, 10)], [(0, 10)]) == []
    assert clip([(0, 10), (15, 30), (40, 50)], 5, 20) == [(5, 10), (15, 20)]


def test_downtime_is_a_union_in_working_time_outside_maintenance() -> None:
    down = [(NOON, NOON + 30 * M), (NOON + 10 * M, NOON + 40 * M)]  # two checks, overlapping
    assert downtime_ms(down, CALENDAR_24X7, [], *JUNE) == 40 * M
    maintenance = [(NOON + 35 * M, NOON + 2 * H)]
    assert downtime_ms(down, CALENDAR_24X7, maintenance, *JUNE) == 35 * M
    # a night outage outside office hours does not count; the morning part does
    night = [(NOON + 17 * H, NOON + 22 * H)]  # 05:00 to 10:00 on Thursday
    assert downtime_ms(night, OFFICE, [], *JUNE) == H
    assert downtime_ms(down, CALENDAR_24X7, [], NOON + 20 * M, NOON + 25 * M) == 5 * M


def test_agreed_service_time_and_availability() -> None:
    assert agreed_ms(CALENDAR_24X7, [], *JUNE) == 30 * 24 * H
    maintenance = [(NOON, NOON + 2 * H), (NOON + H, NOON + 3 * H)]
    assert agreed_ms(CALENDAR_24X7, maintenance, *JUNE) == 30 * 24 * H - 3 * H
    assert agreed_ms(OFFICE, [], *JUNE) == 22 * 8 * H  # 22 weekdays in June 2026
    assert availability_pct(43 * M + 12 * S, 30 * 24 * H) == pytest.approx(99.9)
    assert availability_pct(0, 0) == 100.0
    assert availability_pct(5, 0) == 100.0


def test_budget_is_exact_for_decimal_targets() -> None:
    # (1 - 0.999) in binary floating point is 0.000999999...; the budget must not lose a ms
    assert budget_ms(99.9, 30 * 24 * H) == 43 * M + 12 * S
    assert budget_ms(99.95, 30 * 24 * H) == 21 * M + 36 * S
    assert threshold_ms(1_000, 1.0) == 1_001  # the breach is exceeding the budget
    assert threshold_ms(1_000, 0.5) == 500
    assert threshold_ms(999, 0.5) == 500
    assert threshold_ms(0, 0.5) == 1
    for bad in (0.0, 100.0, 120.0):
        with pytest.raises(ValueError, match="target"):
            budget_ms(bad, H)


def test_budget_exhaustion_during_a_running_outage() -> None:
    budget = budget_ms(99.9, agreed_ms(CALENDAR_24X7, [], *JUNE))
    earlier = [(NOON - 5 * H, NOON - 5 * H + 12 * M)]  # 12 minutes already spent this month
    down = [*earlier, (NOON, None)]  # still firing
    start, end = JUNE
    exhausted = budget_exhaustion_instant(
        down, CALENDAR_24X7, [], start_ms=start, end_ms=end, budget=budget
    )
    assert exhausted == NOON + budget - 12 * M + 1
    # a maintenance window inside the outage postpones the moment by its length
    maintenance = [(NOON + 5 * M, NOON + 15 * M)]
    later = budget_exhaustion_instant(
        down, CALENDAR_24X7, maintenance, start_ms=start, end_ms=end, budget=budget
    )
    assert later == NOON + budget - 12 * M + 1 + 10 * M
    alerts = budget_alert_instants(
        down, CALENDAR_24X7, [], start_ms=start, end_ms=end, budget=budget, warn_at=[0.9, 0.5]
    )
    assert alerts == {
        0.5: NOON + budget // 2 - 12 * M,
        0.9: NOON + -(-budget * 9 // 10) - 12 * M,
        1.0: exhausted,
    }


def test_budget_crossings_in_the_past_are_exact_and_none_when_not_reached() -> None:
    start, end = JUNE
    closed = [(NOON, NOON + H)]
    assert (
        crossing_instant(closed, CALENDAR_24X7, [], start_ms=start, end_ms=end, amount_ms=10 * M)
        == NOON + 10 * M
    )
    assert (
        crossing_instant(closed, CALENDAR_24X7, [], start_ms=start, end_ms=end, amount_ms=2 * H)
        is None
    )
    # an outage starting a minute before the month ends cannot exhaust a 43 minute budget
    late = [(end - M, None)]
    budget = 43 * M
    assert (
        budget_exhaustion_instant(
            late, CALENDAR_24X7, [], start_ms=start, end_ms=end, budget=budget
        )
        is None
    )
    # with office hours, an open outage burns only during working time
    office_down = [(NOON + 4 * H, None)]  # 16:00 on a Wednesday
    instant = crossing_instant(office_down, OFFICE, [], start_ms=start, end_ms=end, amount_ms=2 * H)
    assert instant == NOON + 22 * H  # 1 h on Wednesday, then Thursday 09:00 + 1 h


def test_burn_rate() -> None:
    assert burn_rate(3_600, H, 99.9) == pytest.approx(1.0)
    assert burn_rate(0, H, 99.9) == 0.0
    assert burn_rate(10, 0, 99.9) == 0.0


def test_burn_alerts_fast_and_slow() -> None:
    now = NOON + 10 * M
    fresh = burn_alerts([(NOON, None)], CALENDAR_24X7, [], now_ms=now, target_pct=99.9)
    assert [(s.rule, s.firing) for s in fresh] == [(FAST_BURN, True), (SLOW_BURN, True)]
    assert fresh[0].short_rate == pytest.approx(1000.0)
    assert fresh[0].long_rate == pytest.approx(1000.0 / 6)
    # twenty minutes after a ten minute outage: the 5 m window is clean, the 30 m one is not
    later = burn_alerts(
        [(NOON, NOON + 10 * M)], CALENDAR_24X7, [], now_ms=NOON + 30 * M, target_pct=99.9
    )
    assert [s.firing for s in later] == [False, True]
    # at night, office hours agree no service time at all: nothing burns
    night = burn_alerts([(NOON + 8 * H, None)], OFFICE, [], now_ms=NOON + 9 * H, target_pct=99.9)
    assert [s.firing for s in night] == [False, False]


def test_month_bounds() -> None:
    start, end = month_bounds("2026-03", "Europe/Berlin")
    assert start == datetime_to_ms(datetime(2026, 3, 1, tzinfo=ZoneInfo("Europe/Berlin")))
    assert end - start == 31 * 24 * H - H  # the spring DST change is in March
    assert month_bounds("2026-12", "UTC")[1] == datetime_to_ms(
        datetime(2027, 1, 1, tzinfo=ZoneInfo("UTC"))
    )
    for bad in ("2026-13", "2026-3", "March", "0000-01"):
        with pytest.raises(ValueError, match="month"):
            month_bounds(bad, "UTC")
    with pytest.raises(ValueError, match="tz"):
        month_bounds("2026-01", "Nowhere/Place")


intervals = st.lists(st.tuples(st.integers(0, 1_000), st.integers(0, 1_000)), max_size=12)
PROPERTY = settings(max_examples=200, deadline=None)


def _length(items: list[Interval]) -> int:
    return sum(e - s for s, e in union(items))


@PROPERTY
@given(intervals, st.randoms(use_true_random=False))
def test_union_is_idempotent_and_order_independent(
    items: list[Interval], rnd: random.Random
) -> None:
    merged = union(items)
    assert union(merged) == merged
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert union(shuffled) == merged
    assert all(e > s for s, e in merged)
    assert all(a[1] < b[0] for a, b in pairwise(merged))


@PROPERTY
@given(intervals, intervals)
def test_subtract_removes_exactly_the_overlap(items: list[Interval], holes: list[Interval]) -> None:
    rest = subtract(items, holes)
    overlap = _length(items) + _length(holes) - _length(items + holes)
    assert _length(rest) == _length(items) - overlap
    assert subtract(rest, holes) == rest
    assert _length(rest + holes) == _length(items + holes)
