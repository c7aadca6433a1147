"""The figure arithmetic: availability from facts (union, maintenance, calendars, budget,
MTBF, MTRS), clock outcomes into daily aggregates, compliance, MTTA / MTTR, ticket lives."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from pacta.calendars import CALENDAR_24X7, Calendar
from reporting.domain.availability import MonthFact, budget_ms, period_figures
from reporting.domain.periods import month_bounds
from reporting.domain.ticket_life import TicketEventView, merge, ticket_days
from reporting.domain.tickets import ClockOutcome, Tally, clock_days, clock_delta, sum_days

H = 3_600_000
OCT = month_bounds("2026-10", "UTC")


def fact(
    down: list[tuple[int, int | None]], maintenance: tuple[tuple[int, int], ...] = ()
) -> MonthFact:
    return MonthFact(
        "shop", "2026-10", 1, "gold", 99.9, "24x7", OCT[0], OCT[1], tuple(down), tuple(maintenance)
    )


def test_availability_union_maintenance_budget_mtbf_mtrs() -> None:
    s = OCT[0]
    f = fact(
        [(s + 10 * H, s + 11 * H), (s + 10 * H + H // 2, s + 12 * H), (s + 100 * H, s + 101 * H)],
        ((s + 100 * H + H // 2, s + 103 * H),),
    )
    fig = period_figures([f], CALENDAR_24X7, *OCT, now_ms=OCT[1] + 1)
    agreed = 31 * 24 * H - (H * 5 // 2)
    assert fig.downtime_ms == 2 * H + H // 2  # union 10-12 h, then 100-100.5 h before maintenance
    assert fig.agreed_ms == agreed
    assert fig.outages == 2
    assert fig.mtbf_ms == (agreed - fig.downtime_ms) / 2
    assert fig.mtrs_ms == fig.downtime_ms / 2
    assert fig.budget_ms == agreed // 1000  # 0.1 % exactly
    assert fig.met is False
    assert fig.actual == 100.0 * (1.0 - fig.downtime_ms / agreed)


def test_no_outage_means_no_mtbf_and_a_full_month() -> None:
    fig = period_figures([fact([])], CALENDAR_24X7, *OCT, now_ms=OCT[1])
    assert (fig.outages, fig.mtbf_ms, fig.mtrs_ms, fig.actual, fig.met) == (
        0,
        None,
        None,
        100.0,
        True,
    )


def test_month_to_date_counts_to_now_and_an_open_outage_runs_to_now() -> None:
    now = OCT[0] + 48 * H
    fig = period_figures([fact([(OCT[0] + 47 * H, None)])], CALENDAR_24X7, *OCT, now_ms=now)
    assert fig.agreed_ms == 48 * H
    assert fig.downtime_ms == H
    assert fig.agreed_period_ms == 31 * 24 * H  # the budget is the whole month's


def test_downtime_outside_working_hours_neither_counts_nor_makes_an_outage() -> None:
    office = Calendar(
        name="office", hours={d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    )
    s = OCT[0]  # Thursday 1 Oct 2026
    night = (s + 20 * H, s + 22 * H)
    day = (s + 16 * H, s + 18 * H)  # one working hour inside
    fig = period_figures([fact([night, day])], office, *OCT, now_ms=OCT[1])
    assert fig.downtime_ms == H
    assert fig.outages == 1
    assert fig.agreed_ms == 22 * 8 * H  # 22 weekdays in October 2026


def test_a_report_zone_joins_two_calendar_months() -> None:
    berlin = month_bounds("2026-10", "Europe/Berlin")
    sep = MonthFact(
        "shop",
        "2026-09",
        3,
        "gold",
        99.9,
        "24x7",
        *month_bounds("2026-09", "UTC"),
        ((berlin[0], berlin[0] + H),),
        (),
    )
    fig = period_figures([sep, fact([])], CALENDAR_24X7, *berlin, now_ms=berlin[1])
    assert fig.downtime_ms == H  # 22:00-23:00 UTC on 30 Sep is 1 Oct in Berlin
    assert fig.agreed_ms == (31 * 24 + 1) * H


@pytest.mark.parametrize(
    ("target", "agreed", "budget"),
    [(99.9, 1000, 1), (99.95, 2_678_400_000, 1_339_200), (100.0, 5, None)],
)
def test_budget_rounds_down_through_the_decimal(
    target: float, agreed: int, budget: int | None
) -> None:
    assert budget_ms(target, agreed) == budget


def clock(
    state: str, *, version: int = 1, stopped: int | None = None, breached: int | None = None
) -> ClockOutcome:
    return ClockOutcome(
        "T1", "response", "shop", "P1", state, version, 600_000, stopped, breached, breached
    )


D = 86_400_000


def test_a_met_clock_counts_on_its_stop_day_and_a_breach_on_its_breach_day() -> None:
    assert [(c.day, c.met, c.breached, c.stopped) for c in clock_days(clock("met", stopped=D))] == [
        (date(1970, 1, 2), 1, 0, 0),
        (date(1970, 1, 2), 0, 0, 1),
    ]
    # breached on day 2, stopped on day 3: a breach stays a breach (a `stopped` clock)
    late = clock_days(clock("breached", stopped=2 * D + 5, breached=D + 5))
    assert [(c.day, c.breached, c.stopped) for c in late] == [
        (date(1970, 1, 2), 1, 0),
        (date(1970, 1, 3), 0, 1),
    ]
    assert clock_days(clock("running")) == []


def test_a_retraction_moves_the_clock_from_breached_to_met() -> None:
    v1 = clock("breached", breached=D)
    v2 = clock("met", version=2, stopped=D - 1000)
    total = sum_days(clock_days(v1) + clock_delta(v1, v2))
    met = sum(d.met for d in total.values())
    breached = sum(d.breached for d in total.values())
    assert (met, breached) == (1, 0)


def test_compliance_and_means() -> None:
    t = Tally()
    assert t.compliance is None
    assert t.mean_ms is None
    t.add(2, 1, 3, 900)
    assert t.compliance == pytest.approx(200 / 3)
    assert t.mean_ms == 300


def test_a_ticket_life_is_the_same_whatever_order_its_events_came_in() -> None:
    events = [
        TicketEventView("e1", 1000, "C1", "shop", "change", "created", "P3", None),
        TicketEventView("e2", 2000, "C1", "shop", "change", "updated", "P2", None),
        TicketEventView("e3", 3000, "C1", "shop", "change", "resolved", None, "failed"),
        TicketEventView("e4", 4000, "C1", "shop", "change", "closed", None, "successful"),
    ]
    lives = set()
    for order in itertools.permutations(events):
        life = None
        for e in order:
            life = merge(life, e)
        assert life is not None
        lives.add(life)
    assert len(lives) == 1
    life = lives.pop()
    assert (life.priority, life.completed_ms, life.outcome, life.opened_ms) == (
        "P2",
        3000,
        "successful",
        1000,
    )
    assert ticket_days(life)[0].kind == "change"
    assert ticket_days(life)[0].failed == 0  # the latest outcome counts
