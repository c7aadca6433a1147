"""Down intervals from monitoring events (order-free), outages, month figures; module purity."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pacta.calendars import Calendar
from pacta.durations import datetime_to_ms
from pacta.versions import Version
from sla_engine.domain.availability import budget_exhaustion_instant, month_bounds
from sla_engine.domain.downtime import (
    CheckEvent,
    DownInterval,
    Objective,
    advance,
    check_intervals,
    month_figures,
    month_of,
    months_between,
    objective_of,
    outages,
    union_open,
)
from sla_engine.domain.policies import PolicySpec

S, M, H = 1_000, 60_000, 3_600_000
JUNE = month_bounds("2026-06", "UTC")
NOON = datetime_to_ms(datetime(2026, 6, 10, 12, tzinfo=ZoneInfo("UTC")))
POLICY = PolicySpec.model_validate({"availability": {"target": 99.9}, "warn_at": [0.5, 0.9]}).named(
    "gold"
)
GOLD = objective_of(POLICY)


def fire(at: int, sev: str = "critical", eid: str | None = None) -> CheckEvent:
    return CheckEvent(at, "firing", sev, eid or f"f{at}{sev}")


def resolve(at: int, eid: str | None = None) -> CheckEvent:
    return CheckEvent(at, "resolved", "critical", eid or f"r{at}")


def spans(intervals: list[DownInterval]) -> list[tuple[int, int | None]]:
    return [(iv.start_ms, iv.end_ms) for iv in intervals]


# ---- check intervals ------------------------------------------------------------------------


def test_firing_then_resolved_is_one_interval_with_the_firing_severity() -> None:
    found = check_intervals("http", [fire(10, "major"), resolve(20)])
    assert found == [DownInterval("http", 10, 20, "major", "f10major")]


def test_resolved_arriving_before_its_firing_pairs_up_once_both_are_there() -> None:
    assert check_intervals("http", [resolve(20)]) == []  # a resolve alone is ignored
    assert spans(check_intervals("http", [resolve(20), fire(10)])) == [(10, 20)]


def test_firing_twice_keeps_the_first_start_and_duplicates_change_nothing() -> None:
    events = [fire(10), fire(15, eid="again"), fire(10, eid="dup"), resolve(30), resolve(30, "x")]
    assert spans(check_intervals("http", events)) == [(10, 30)]


def test_still_firing_is_open() -> None:
    assert spans(check_intervals("http", [fire(10), resolve(20), fire(40)])) == [
        (10, 20),
        (40, None),
    ]


def test_severity_change_splits_unless_told_not_to() -> None:
    events = [fire(10, "minor"), fire(20, "critical"), resolve(30)]
    found = check_intervals("http", events)
    assert [(iv.start_ms, iv.end_ms, iv.severity) for iv in found] == [
        (10, 20, "minor"),
        (20, 30, "critical"),
    ]
    assert spans(check_intervals("maintenance", events, by_severity=False)) == [(10, 30)]


def test_resolve_and_fire_at_the_same_instant_stays_down() -> None:
    found = check_intervals("http", [fire(10), fire(20, eid="z"), resolve(20, "a"), resolve(30)])
    assert outages(found, {"critical"}) == [(10, 30)]


@given(
    st.lists(
        st.tuples(st.integers(0, 50), st.booleans(), st.sampled_from(["critical", "minor"])),
        max_size=12,
    ),
    st.randoms(),
)
def test_arrival_order_never_matters(raw: list[tuple[int, bool, str]], rnd: object) -> None:
    events = [
        CheckEvent(t, "firing" if firing else "resolved", sev, f"e{i}")
        for i, (t, firing, sev) in enumerate(raw)
    ]
    shuffled = list(events)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert check_intervals("c", shuffled) == check_intervals("c", events)
    found = check_intervals("c", events)
    assert all(iv.end_ms is None or iv.end_ms > iv.start_ms for iv in found)
    assert all(a.end_ms is not None and a.end_ms <= b.start_ms for a, b in pairwise(found))


events_strategy = st.lists(
    st.tuples(st.integers(0, 30), st.booleans(), st.sampled_from(["critical", "minor", "major"])),
    max_size=14,
)


@given(events_strategy, events_strategy)
def test_the_fast_path_agrees_with_the_journal_or_declines(
    before: list[tuple[int, bool, str]], after: list[tuple[int, bool, str]]
) -> None:
    def make(raw: list[tuple[int, bool, str]], tag: str) -> list[CheckEvent]:
        return [
            CheckEvent(t, "firing" if firing else "resolved", sev, f"{tag}{i:02d}")
            for i, (t, firing, sev) in enumerate(raw)
        ]

    old = make(before, "a")
    seen = max((e.occurred_ms for e in old), default=None)
    # mostly later than what came before (the fast path's case), some at the same instant
    new = make([(t + (seen or 0) - 2, f, sev) for t, f, sev in after], "b")
    known = check_intervals("c", old)
    last = known[-1] if known else None
    tail = advance("c", last, seen, new)
    full = check_intervals("c", old + new)
    if tail is None:
        return  # declining is always safe: the caller re-derives from the journal
    kept = known[:-1] if known else []
    assert [(iv.start_ms, iv.end_ms, iv.severity) for iv in kept + tail] == [
        (iv.start_ms, iv.end_ms, iv.severity) for iv in full
    ]


def test_the_fast_path_takes_later_events_and_plain_repeats() -> None:
    last = DownInterval("c", 10, None, "critical", "f10")
    assert advance("c", last, 10, [fire(10, eid="again"), fire(12, eid="x")]) == [last]
    assert spans(advance("c", last, 10, [resolve(15), fire(20)]) or []) == [(10, 15), (20, None)]
    assert advance("c", last, 10, [resolve(10)]) is None  # simultaneous: the journal decides
    assert advance("c", last, 30, [fire(20, eid="late")]) is None  # out of order
    bench = [fire(5, "major", f"e{i}") for i in range(1000)]
    assert spans(advance("c", None, None, bench) or []) == [(5, None)]


# ---- outages ------------------------------------------------------------------------------


def test_outages_count_only_down_severities_and_overlaps_once() -> None:
    intervals = [
        DownInterval("a", 0, 100, "critical"),
        DownInterval("b", 50, 150, "critical"),
        DownInterval("c", 200, 300, "minor"),
        DownInterval("d", 400, None, "major"),
    ]
    assert outages(intervals, {"critical"}) == [(0, 150)]
    assert outages(intervals, {"critical", "major"}) == [(0, 150), (400, None)]


def test_an_open_interval_absorbs_what_follows() -> None:
    assert union_open([(10, None), (20, 30), (0, 5), (5, 8)]) == [(0, 8), (10, None)]


# ---- month figures --------------------------------------------------------------------------


def test_month_to_date_figures_are_exact_to_the_ms() -> None:
    down = [(NOON - 10 * M, NOON - 4 * M)]
    fig = month_figures("svc", "2026-06", GOLD, down, [], NOON)
    start, end = JUNE
    assert fig.downtime_ms == 6 * M
    assert fig.agreed_to_date_ms == NOON - start
    assert fig.agreed_month_ms == end - start == 30 * 24 * H
    assert fig.budget_ms == 30 * 24 * H // 1000  # 43.2 minutes
    assert fig.actual_pct == pytest.approx(100 * (1 - 6 * M / (NOON - start)))
    assert fig.budget_consumed == 6 * M / fig.budget_ms
    assert fig.met is True
    assert fig.down is False
    assert fig.intervals == down


def test_maintenance_removes_downtime_and_agreed_time() -> None:
    down = [(NOON - 10 * M, NOON - 4 * M)]
    windows: list[tuple[int, int | None]] = [(NOON - 8 * M, NOON - 6 * M)]
    fig = month_figures("svc", "2026-06", GOLD, down, windows, NOON)
    assert fig.downtime_ms == 4 * M
    assert fig.agreed_to_date_ms == NOON - JUNE[0] - 2 * M
    assert fig.intervals == [(NOON - 10 * M, NOON - 8 * M), (NOON - 6 * M, NOON - 4 * M)]


def test_open_outage_runs_to_now_and_shows_no_end() -> None:
    fig = month_figures("svc", "2026-06", GOLD, [(NOON - M, None)], [(NOON + H, None)], NOON)
    assert fig.downtime_ms == M
    assert fig.down is True
    assert fig.intervals == [(NOON - M, None)]


def test_a_finished_month_is_closed_at_its_end_and_met_matches_the_target() -> None:
    start, end = JUNE
    budget = 30 * 24 * H // 1000
    exact = month_figures("svc", "2026-06", GOLD, [(start, start + budget)], [], end + H)
    assert exact.as_of_ms == end
    assert exact.agreed_to_date_ms == exact.agreed_month_ms
    assert exact.met is True
    assert exact.actual_pct == pytest.approx(99.9)
    over = month_figures("svc", "2026-06", GOLD, [(end - budget - 1, None)], [], end + H)
    assert over.met is False
    assert over.down is False
    assert over.intervals == [(end - budget - 1, end)]


def test_no_policy_means_24x7_critical_and_no_budget() -> None:
    fig = month_figures("svc", "2026-06", objective_of(None), [(NOON - M, NOON)], [], NOON)
    assert fig.downtime_ms == M
    assert fig.budget_ms is None
    assert fig.met is None
    assert fig.budget_consumed is None


def test_business_hours_count_only_working_time() -> None:
    office = Calendar(name="office", hours={d: ["09:00-17:00"] for d in ("mon", "tue", "wed")})
    objective = Objective("p", 99.0, office, frozenset({"critical"}), ())
    wednesday = datetime_to_ms(datetime(2026, 6, 10, 16, tzinfo=ZoneInfo("UTC")))
    fig = month_figures("svc", "2026-06", objective, [(wednesday, wednesday + 3 * H)], [], NOON)
    assert fig.downtime_ms == 0  # NOON is before it; now move on past it
    later = month_figures(
        "svc", "2026-06", objective, [(wednesday, wednesday + 3 * H)], [], wednesday + 4 * H
    )
    assert later.downtime_ms == H


def test_bad_months_are_refused() -> None:
    for month in ("2026-13", "2026-6", "June", "0000-01", ""):
        with pytest.raises(ValueError, match="month"):
            month_figures("svc", month, GOLD, [], [], NOON)


def test_months_between_and_month_of() -> None:
    assert month_of(JUNE[0], "UTC") == "2026-06"
    assert month_of(JUNE[0] - 1, "UTC") == "2026-05"
    assert month_of(JUNE[0], "America/New_York") == "2026-05"
    assert months_between(JUNE[0] - 40 * 24 * H, NOON, "UTC") == ["2026-04", "2026-05", "2026-06"]
    dec = month_bounds("2025-12", "UTC")[0]
    assert months_between(dec, NOON, "UTC")[:2] == ["2025-12", "2026-01"]


# ---- the functional core stays pure and small --------------------------------------------


def test_down_labels_are_those_of_the_checks_down_at_the_instant() -> None:
    from sla_engine.domain.downtime import DownInterval, down_labels

    intervals = [
        DownInterval("db", 0, 100, "critical", "", {"team": "data", "region": "eu"}),
        DownInterval("http", 50, None, "critical", "", {"team": "web"}),
        DownInterval("disk", 0, None, "warning", "", {"team": "ops"}),  # not a down severity
    ]
    assert down_labels(intervals, {"critical"}, 20) == {"team": "data", "region": "eu"}
    # both down: the first check (by name) keeps a label they disagree on
    assert down_labels(intervals, {"critical"}, 60) == {"team": "data", "region": "eu"}
    assert down_labels(intervals, {"critical"}, 100) == {"team": "data", "region": "eu"}
    assert down_labels(intervals, {"critical"}, 101) == {"team": "web"}


def test_an_interval_keeps_the_labels_of_the_firing_that_opened_it() -> None:
    from sla_engine.domain.downtime import CheckEvent, check_intervals

    events = [
        CheckEvent(0, "firing", "critical", "a", {"team": "web"}),
        CheckEvent(10, "resolved", "critical", "b"),
    ]
    (interval,) = check_intervals("http", events)
    assert dict(interval.labels) == {"team": "web"}


def test_month_to_date_met_is_actual_against_target_and_the_budget_view_is_on_track() -> None:
    # 20 minutes down early in the month: below 99.9 % so far, yet within the 43.2 m budget
    start, _end = JUNE
    now = start + 2 * 24 * H
    fig = month_figures("svc", "2026-06", GOLD, [(start + H, start + H + 20 * 60_000)], [], now)
    assert fig.actual_pct < 99.9
    assert fig.met is False
    assert fig.on_track is True
    assert fig.budget_remaining_ms is not None
    assert fig.budget_remaining_ms > 0


def test_month_of_keeps_four_digit_years() -> None:
    from sla_engine.domain.downtime import month_of

    year_151 = datetime_to_ms(datetime(151, 8, 3, tzinfo=ZoneInfo("UTC")))
    assert month_of(year_151, "UTC") == "0151-08"


def test_calendar_versions_count_each_stretch_in_the_version_in_force() -> None:
    """Office hours (09-17 every day) until June 15th, around the clock from then (a calendar version):
    14 days x 8 h + 16 days x 24 h agreed; an outage from the 14th 16:00 to the 15th 02:00 is
    1 h under the first version and 2 h under the second."""
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    office = Calendar(name="desk", hours={d: ["09:00-17:00"] for d in days})
    all_day = Calendar(name="desk")
    fifteenth = datetime_to_ms(datetime(2026, 6, 15, tzinfo=ZoneInfo("UTC")))
    versions = (Version(1, None, office), Version(2, fifteenth, all_day))
    objective = Objective("p", 99.0, all_day, frozenset({"critical"}), (), 1, 2, versions)
    end = JUNE[1]
    outage = (fifteenth - 8 * H, fifteenth + 2 * H)
    fig = month_figures("svc", "2026-06", objective, [outage], [], end)
    assert fig.agreed_month_ms == (14 * 8 + 16 * 24) * H
    assert fig.downtime_ms == 3 * H
    # the budget (1 % of 496 h = 4.96 h) is crossed 1.96 h after the 15th's midnight in v2
    # on a longer outage, the instant counted in the version in force there
    long_outage = (fifteenth - 8 * H, None)
    instant = budget_exhaustion_instant(
        [long_outage], versions, [], start_ms=JUNE[0], end_ms=end, budget=fig.budget_ms or 0
    )
    assert fig.budget_ms == 496 * H // 100
    assert instant == fifteenth + (fig.budget_ms or 0) + 1 - H
