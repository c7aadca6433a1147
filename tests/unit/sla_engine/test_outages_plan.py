"""Availability signals from outages: budget warnings and breach at their exact instants, burn
rates, recovered, the next timer instant; stable ids."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from math import floor
from zoneinfo import ZoneInfo

from pacta.calendars import CALENDAR_24X7
from pacta.durations import datetime_to_ms, format_timestamp_ms
from sla_engine.domain.availability import FAST_BURN, SLOW_BURN, BurnRule, burn_alerts, month_bounds
from sla_engine.domain.budget_alerts import Intent, plan
from sla_engine.domain.downtime import Objective

S, M, H = 1_000, 60_000, 3_600_000
JUNE = month_bounds("2026-06", "UTC")
JUNE_MS = JUNE[1] - JUNE[0]
NOON = datetime_to_ms(datetime(2026, 6, 10, 12, tzinfo=ZoneInfo("UTC")))
CRIT = frozenset({"critical"})


def objective(target: float, warn_at: tuple[float, ...] = ()) -> Objective:
    return Objective("p", target, CALENDAR_24X7, CRIT, warn_at)


def budget(target: float, agreed: int = JUNE_MS) -> int:
    return floor((100 - Fraction(str(target))) * agreed / 100)


def kinds(intents: list[Intent]) -> dict[str, Intent]:
    return {i.signal_id.split("/", 2)[2]: i for i in intents}


def tiny_target(budget_ms: int) -> float:
    """A target whose June budget is `budget_ms` (what the e2e test does for the live month)."""
    return float(100 - Fraction(budget_ms * 100, JUNE_MS) - Fraction(1, 10**12))


def test_breach_is_due_at_the_exact_instant_the_budget_is_exceeded() -> None:
    target = tiny_target(3_000)
    b = budget(target)
    assert 3_000 <= b < 3_010
    t0 = NOON
    early = plan("svc", objective(target), [(t0, None)], [], since_ms=t0, now_ms=t0 + S)
    assert "availability_breach" not in {i.kind for i in early.intents}
    assert early.next_due_ms is not None
    assert early.next_due_ms <= t0 + b + 1
    # the timer wakes at each due instant in turn until the breach fires, at budget + 1 ms
    now = t0 + S
    fired: dict[str, Intent] = {}
    for _ in range(10):
        result = plan("svc", objective(target), [(t0, None)], [], since_ms=now, now_ms=now)
        fired.update(kinds(result.intents))
        if "2026-06/availability_breach/1" in fired:
            break
        assert result.next_due_ms is not None
        now = result.next_due_ms
    breach = fired["2026-06/availability_breach/1"]
    assert breach.occurred_ms == t0 + b + 1
    assert breach.threshold == 1.0
    assert breach.signal_id == "svc/availability/2026-06/availability_breach/1"
    assert now == t0 + b + 1  # it fired on its own timer, at its instant


def test_warnings_fire_at_each_fraction_and_carry_the_projected_breach() -> None:
    target = 99.9
    b = budget(target)
    t0 = NOON
    result = plan(
        "svc",
        objective(target, (0.5, 0.75)),
        [(t0, None)],
        [],
        since_ms=t0,
        now_ms=t0 + b // 2 + 10,
    )
    found = kinds(result.intents)
    half = found["2026-06/availability_warning/0.5"]
    assert half.occurred_ms == t0 + b // 2 + (b % 2)  # ceil(0.5 x budget)
    assert half.deadline_ms == t0 + b + 1
    assert half.kind == "availability_warning"
    assert "2026-06/availability_warning/0.75" not in found
    assert result.next_due_ms == min(t0 + (3 * b + 3) // 4, result.next_due_ms or 0)


def test_a_late_outage_gives_its_crossings_in_event_time_and_recovers() -> None:
    target = 99.9
    b = budget(target)
    t0 = NOON - 3 * H
    end = t0 + b + 10 * M
    result = plan(
        "svc", objective(target, (0.5,)), [(t0, end)], [], since_ms=t0 + 5 * M, now_ms=NOON
    )
    found = kinds(result.intents)
    assert found["2026-06/availability_breach/1"].occurred_ms == t0 + b + 1
    assert found["2026-06/availability_warning/0.5"].occurred_ms == t0 + b // 2 + (b % 2)
    recovered = next(i for i in result.intents if i.kind == "recovered")
    assert recovered.occurred_ms == end
    assert recovered.signal_id == f"svc/availability/2026-06/recovered/{format_timestamp_ms(t0)}"
    assert result.next_due_ms is None  # nothing is down: no timer


def test_fast_and_slow_burn_fire_at_the_first_instant_both_windows_burn() -> None:
    obj = objective(99.9)
    t0 = NOON
    result = plan("svc", obj, [(t0, None)], [], since_ms=t0, now_ms=t0 + 30 * S)
    assert not [i for i in result.intents if i.kind == "burn_rate"]
    assert result.next_due_ms is not None
    # 14.4 x 0.1 % of an hour is 51.84 s down
    assert abs(result.next_due_ms - (t0 + 51_840)) <= 1
    later = plan("svc", obj, [(t0, None)], [], since_ms=t0, now_ms=t0 + 10 * M)
    burns = {i.labels["burn_rule"]: i for i in later.intents if i.kind == "burn_rate"}
    assert set(burns) == {"fast", "slow"}
    for rule, intent in ((FAST_BURN, burns["fast"]), (SLOW_BURN, burns["slow"])):
        at = intent.occurred_ms

        def firing(t: int, rule: BurnRule = rule) -> bool:
            status = burn_alerts(
                [(t0, None)], CALENDAR_24X7, [], now_ms=t, target_pct=99.9, rules=[rule]
            )
            return status[0].firing

        assert firing(at)
        assert not firing(at - 1)
        assert intent.threshold == rule.factor
        assert intent.signal_id == (
            f"svc/availability/2026-06/burn_rate/{rule.name}/{format_timestamp_ms(t0)}"
        )


def test_a_low_target_never_burns_fast_and_nothing_fires_without_a_target() -> None:
    t0 = NOON
    low = plan("svc", objective(90.0), [(t0, None)], [], since_ms=t0, now_ms=t0 + 2 * H)
    assert "fast" not in {i.labels.get("burn_rule") for i in low.intents}
    none = Objective(None, None, CALENDAR_24X7, CRIT, ())
    quiet = plan("svc", none, [(t0, None)], [], since_ms=t0, now_ms=t0 + 2 * H)
    assert quiet.intents == []
    assert quiet.next_due_ms == JUNE[1]  # only the month's turn


def test_maintenance_shifts_the_breach_later() -> None:
    target = tiny_target(3_000)
    b = budget(target)
    t0 = NOON
    windows: list[tuple[int, int | None]] = [(t0 + S, t0 + 2 * S)]
    result = plan("svc", objective(target), [(t0, None)], windows, since_ms=t0, now_ms=t0 + 10 * S)
    breach = kinds(result.intents)["2026-06/availability_breach/1"]
    # agreed time shrinks by 1 s (budget a hair smaller); the outage does not count for 1 s
    assert breach.occurred_ms == t0 + budget(target, JUNE_MS - S) + 1 + S
    assert breach.occurred_ms != t0 + b + 1


def test_open_maintenance_is_assumed_to_go_on() -> None:
    t0 = NOON
    windows: list[tuple[int, int | None]] = [(t0, None)]
    result = plan("svc", objective(99.9), [(t0, None)], windows, since_ms=t0, now_ms=t0 + H)
    assert result.intents == []
    assert result.next_due_ms is not None
    assert result.next_due_ms > t0 + H


def test_the_month_turns_while_down() -> None:
    start, end = JUNE
    t0 = end - 10 * S
    result = plan("svc", objective(90.0), [(t0, None)], [], since_ms=t0, now_ms=t0 + S)
    assert result.next_due_ms == end
    after = plan("svc", objective(90.0), [(t0, None)], [], since_ms=end + 5, now_ms=end + 5)
    assert [f.month for f in after.figures] == ["2026-06", "2026-07"]
    assert after.figures[0].downtime_ms == 10 * S
    assert after.figures[1].downtime_ms == 5
    assert after.current.month == "2026-07"
    assert start < t0


def test_planning_again_gives_the_same_ids() -> None:
    t0 = NOON - H
    obj = objective(99.99, (0.5,))
    a = plan("svc", obj, [(t0, NOON - M)], [], since_ms=t0, now_ms=NOON)
    b = plan("svc", obj, [(t0, NOON - M)], [], since_ms=NOON - 2 * M, now_ms=NOON + H)
    assert {i.signal_id for i in a.intents} == {i.signal_id for i in b.intents}
    assert len({i.signal_id for i in a.intents}) == len(a.intents)


def test_judge_retracts_what_the_plan_no_longer_produces_and_numbers_new_occurrences() -> None:
    from sla_engine.domain.availability_record import Recorded, judge
    from sla_engine.domain.budget_alerts import Intent

    breach = "svc/availability/2026-06/availability_breach/1"
    warning = "svc/availability/2026-06/availability_warning/0.5"
    old = "svc/availability/2026-05/availability_breach/1"
    records = [
        Recorded(breach, "availability_breach", "2026-06", retracted=True),
        Recorded(warning, "availability_warning", "2026-06", retracted=False),
        Recorded(old, "availability_breach", "2026-05", retracted=False),  # not planned
    ]
    again = Intent(breach, "availability_breach", "2026-06", 5, 1.0)
    verdict = judge(records, [again], ["2026-06"])
    assert [i.signal_id for i in verdict.emit] == [f"{breach}#2"]
    assert [r.signal_id for r in verdict.retract] == [warning]
    # once emitted, the new occurrence stands: not emitted again, not retracted
    records.append(Recorded(f"{breach}#2", "availability_breach", "2026-06", retracted=False))
    verdict = judge(records, [again], ["2026-06"])
    assert verdict.emit == []
    assert all(r.signal_id != f"{breach}#2" for r in verdict.retract)
