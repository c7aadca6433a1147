"""Time nobody watched is never a fulfilled 100 %: periods outside every fact's month, before
the first monitoring event, or still to come have no figure; unmeasured stretches are left out
of agreed time and show as coverage; `met` follows the figure shown."""

from __future__ import annotations

from pacta.calendars import CALENDAR_24X7
from reporting.domain.availability import MonthFact, period_figures
from reporting.domain.periods import month_bounds

H = 3_600_000
OCT = month_bounds("2026-10", "UTC")
SEP = month_bounds("2026-09", "UTC")
BERLIN_OCT = month_bounds("2026-10", "Europe/Berlin")


def fact(
    bounds: tuple[int, int] = OCT,
    down: tuple[tuple[int, int | None], ...] = (),
    unmeasured: tuple[tuple[int, int | None], ...] = (),
    target: float = 99.9,
) -> MonthFact:
    return MonthFact("shop", "2026-10", 1, "gold", target, "24x7", *bounds, down, (), unmeasured)


def test_a_month_no_fact_covers_has_no_figure_even_inside_a_longer_range() -> None:
    july = month_bounds("2026-07", "UTC")
    assert period_figures([fact()], CALENDAR_24X7, *july, now_ms=OCT[1]) is None
    # July to October asked at once: only October is counted, July adds no agreed time
    fig = period_figures([fact()], CALENDAR_24X7, july[0], OCT[1], now_ms=OCT[1])
    assert fig is not None
    assert fig.agreed_ms == 31 * 24 * H


def test_previous_month_in_utc_is_not_covered_by_a_berlin_month_fact() -> None:
    # the Berlin October starts at 22:00Z on 30 September; the first event came on 1 October
    f = fact(BERLIN_OCT)
    assert period_figures([f], CALENDAR_24X7, *SEP, now_ms=OCT[1], first_ms=OCT[0] + H) is None


def test_future_periods_and_time_before_the_first_event_have_no_figure() -> None:
    now = OCT[0] + 10 * 24 * H
    assert period_figures([fact()], CALENDAR_24X7, now + 24 * H, OCT[1], now_ms=now) is None
    first = OCT[0] + 5 * 24 * H
    week = (OCT[0], OCT[0] + 4 * 24 * H)
    assert period_figures([fact()], CALENDAR_24X7, *week, now_ms=now, first_ms=first) is None
    fig = period_figures([fact()], CALENDAR_24X7, *OCT, now_ms=now, first_ms=first)
    assert fig is not None
    assert fig.agreed_ms == 5 * 24 * H
    assert fig.unmeasured_ms == 5 * 24 * H  # the covered days before the first event
    assert fig.coverage == 50.0


def test_unmeasured_stretches_are_neither_up_nor_down() -> None:
    s = OCT[0]
    f = fact(down=((s + 10 * H, s + 12 * H),), unmeasured=((s + 11 * H, s + 21 * H),))
    fig = period_figures([f], CALENDAR_24X7, *OCT, now_ms=OCT[1], first_ms=s)
    assert fig is not None
    assert fig.downtime_ms == H
    assert fig.unmeasured_ms == 10 * H
    assert fig.agreed_ms == 31 * 24 * H - 10 * H
    assert fig.coverage is not None
    assert abs(fig.coverage - 100 * (744 - 10) / 744) < 1e-9


def test_met_follows_the_figure_not_the_budget() -> None:
    s = OCT[0]
    # 2,690 s down in October: 99.89957 %, under 99.9 even though the budget is 2,678.4 s...
    f = fact(down=((s, s + 2_690_000),))
    fig = period_figures([f], CALENDAR_24X7, *OCT, now_ms=OCT[1], first_ms=s)
    assert fig is not None
    assert fig.met is False
    # ...and mid-month, with budget to spare for the rest of it, the figure shown still misses
    now = s + 24 * H
    fig = period_figures([fact(down=((s, s + 180_000),))], CALENDAR_24X7, *OCT, now_ms=now)
    assert fig is not None
    assert fig.actual is not None
    assert fig.actual < 99.9
    assert fig.budget_consumed is not None
    assert fig.budget_consumed < 1
    assert fig.met is False
