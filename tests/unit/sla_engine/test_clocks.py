"""The ticket clock state machine: hand-computed deadlines, pauses, priority changes, reopen."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from pacta.calendars import CALENDAR_24X7, WEEKDAYS, Calendar
from pacta.durations import datetime_to_ms
from sla_engine.domain.clocks import Clock, OutOfOrderError, SignalIntent

H = 3_600_000
T0 = datetime_to_ms(datetime(2026, 6, 1, tzinfo=ZoneInfo("UTC")))
WARN = (0.5, 0.75, 0.9)


def berlin(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> int:
    return datetime_to_ms(datetime(y, mo, d, h, mi, tzinfo=ZoneInfo("Europe/Berlin")))


def clock(
    target_ms: int | None = 4 * H, *, calendar: Calendar = CALENDAR_24X7, at_ms: int = T0
) -> Clock:
    return Clock.start(
        ticket_id="T-1",
        service="checkout",
        metric="resolution",
        policy="gold",
        priority="P1",
        target_ms=target_ms,
        calendar=calendar,
        warn_at=WARN,
        at_ms=at_ms,
    )


def state(c: Clock) -> str:
    return c.api_state  # read through a call: mypy would keep an earlier comparison's narrowing


def fired(intents: list[SignalIntent]) -> list[tuple[str, float, int]]:
    return [(i.kind, i.threshold, i.occurred_at_ms) for i in intents]


def test_christmas_thresholds_fire_at_their_exact_instants() -> None:
    office = Calendar(
        "office",
        "Europe/Berlin",
        {d: ["09:00-17:00"] for d in WEEKDAYS[:5]},
        holidays=["2026-12-25"],
    )
    c = clock(calendar=office, at_ms=berlin(2026, 12, 24, 16))
    assert c.deadline_ms() == berlin(2026, 12, 28, 12)
    assert c.next_due_ms() == berlin(2026, 12, 28, 10)  # 1 h on Thursday + 1 h on Monday
    assert fired(c.advance(berlin(2026, 12, 28, 11))) == [
        ("warning", 0.5, berlin(2026, 12, 28, 10)),
        ("warning", 0.75, berlin(2026, 12, 28, 11)),
    ]
    assert c.next_due_ms() == berlin(2026, 12, 28, 11, 36)
    intents = c.advance(berlin(2026, 12, 28, 13))
    assert fired(intents) == [
        ("warning", 0.9, berlin(2026, 12, 28, 11, 36)),
        ("breach", 1.0, berlin(2026, 12, 28, 12)),
    ]
    assert all(i.deadline_ms == berlin(2026, 12, 28, 12) for i in intents)
    # a breached resolution clock keeps counting until the ticket is resolved
    assert (c.breached, c.stopped, c.api_state) == (True, False, "breached")
    assert c.elapsed_ms == 5 * H
    assert c.remaining_ms(berlin(2026, 12, 28, 14)) == -2 * H
    assert c.next_due_ms() is None
    assert c.advance(berlin(2026, 12, 30)) == []
    # the all-clear for the breach alert, with the working time counted at its own instant
    stopped = c.stop(berlin(2026, 12, 30, 10))
    assert fired(stopped) == [("stopped", 1.0, berlin(2026, 12, 30, 10))]
    assert stopped[0].elapsed_ms == c.elapsed_ms
    assert (c.api_state, c.deadline_ms()) == ("breached", berlin(2026, 12, 28, 12))


def test_outside_working_hours_the_clock_shows_running_but_does_not_count() -> None:
    office = Calendar("office", "Europe/Berlin", {d: ["09:00-17:00"] for d in WEEKDAYS[:5]})
    c = clock(calendar=office, at_ms=berlin(2026, 12, 18, 16))  # a Friday
    assert c.remaining_ms(berlin(2026, 12, 19, 12)) == 3 * H
    assert c.remaining_ms(berlin(2026, 12, 21, 9)) == 3 * H
    c.advance(berlin(2026, 12, 20, 12))
    assert c.api_state == "running"
    assert c.elapsed_ms == H


def test_pause_and_resume_moves_the_deadline_and_warnings_fire_once() -> None:
    c = clock()
    half_hour = H // 2
    assert fired(c.set_status(True, T0 + 2 * H + half_hour)) == [("warning", 0.5, T0 + 2 * H)]
    assert (c.api_state, c.deadline_ms(), c.next_due_ms()) == ("paused", None, None)
    # a paused clock cannot breach, however long it waits
    assert c.advance(T0 + 100 * H) == []
    assert c.elapsed_ms == 2 * H + half_hour
    assert c.set_status(False, T0 + 100 * H) == []
    assert c.deadline_ms() == T0 + 101 * H + half_hour
    assert fired(c.advance(T0 + 200 * H)) == [
        ("warning", 0.75, T0 + 100 * H + half_hour),
        ("warning", 0.9, T0 + 101 * H + 6 * 60_000),
        ("breach", 1.0, T0 + 101 * H + half_hour),
    ]
    # pausing again and resuming never fires a fraction twice
    assert c.set_status(True, T0 + 201 * H) == []
    assert c.set_status(False, T0 + 202 * H) == []
    assert c.advance(T0 + 300 * H) == []


def test_lowering_the_target_below_the_elapsed_time_breaches_at_the_change() -> None:
    c = clock(8 * H)
    intents = c.change_priority("P1", 4 * H, T0 + 5 * H)
    assert fired(intents) == [
        ("warning", 0.5, T0 + 4 * H),  # 50 % of the old 8 h target, reached before the change
        ("warning", 0.75, T0 + 5 * H),
        ("warning", 0.9, T0 + 5 * H),
        ("breach", 1.0, T0 + 5 * H),
    ]
    assert intents[-1].deadline_ms == T0 + 5 * H
    assert intents[-1].priority == "P1"
    assert c.deadline_ms() == T0 + 5 * H


def test_lowering_the_target_while_paused_still_breaches_at_once() -> None:
    c = clock(8 * H)
    c.set_status(True, T0 + 5 * H)
    assert fired(c.change_priority("P1", 4 * H, T0 + 6 * H))[-1] == ("breach", 1.0, T0 + 6 * H)


def test_raising_the_target_keeps_the_elapsed_time_and_fired_warnings() -> None:
    c = clock(4 * H)
    assert fired(c.change_priority("P3", 8 * H, T0 + 3 * H)) == [
        ("warning", 0.5, T0 + 2 * H),
        ("warning", 0.75, T0 + 3 * H),  # reached at the change instant, under the old target
    ]
    assert c.elapsed_ms == 3 * H
    assert c.deadline_ms() == T0 + 8 * H
    # 0.5 and 0.75 of the new target are passed or ahead, but each fraction fires only once
    assert fired(c.advance(T0 + 9 * H)) == [
        ("warning", 0.9, T0 + 7 * H + 12 * 60_000),
        ("breach", 1.0, T0 + 8 * H),
    ]


def test_stopping_in_time_is_met_once() -> None:
    c = clock()
    intents = c.stop(T0 + H)
    assert fired(intents) == [("met", 1.0, T0 + H)]
    assert intents[0].deadline_ms == T0 + 4 * H
    assert (c.api_state, c.stopped, c.breached) == ("met", True, False)
    assert c.stop(T0 + 2 * H) == []
    assert c.advance(T0 + 10 * H) == []
    assert c.remaining_ms(T0 + 10 * H) == 3 * H
    assert c.deadline_ms() == T0 + 4 * H


def test_stopping_at_the_deadline_is_a_breach() -> None:
    # the deadline is the instant the target is reached, so it has passed by then
    c = clock()
    kinds = [k for k, _, _ in fired(c.stop(T0 + 4 * H))]
    assert kinds == ["warning"] * 3 + ["breach", "stopped"]
    assert c.api_state == "breached"
    c = clock()
    assert fired(c.stop(T0 + 4 * H - 1))[-1] == ("met", 1.0, T0 + 4 * H - 1)


def test_reopen_carries_the_elapsed_time_and_can_still_breach() -> None:
    c = clock()
    assert fired(c.stop(T0 + H)) == [("met", 1.0, T0 + H)]
    assert c.reopen(T0 + 10 * H) == []
    assert c.api_state == "running"
    assert c.deadline_ms() == T0 + 13 * H
    assert fired(c.advance(T0 + 20 * H)) == [
        ("warning", 0.5, T0 + 11 * H),
        ("warning", 0.75, T0 + 12 * H),
        ("warning", 0.9, T0 + 12 * H + 36 * 60_000),
        ("breach", 1.0, T0 + 13 * H),
    ]
    assert c.met_signalled
    assert state(c) == "breached"
    # resolving again after the breach gives no second met, but the breach's all-clear
    assert [(i.kind, i.episode) for i in c.stop(T0 + 21 * H)] == [("stopped", 2)]


def test_a_target_lowered_while_stopped_applies_at_reopen() -> None:
    c = clock(8 * H)
    c.stop(T0 + 5 * H)
    assert c.change_priority("P1", 4 * H, T0 + 6 * H) == []
    assert fired(c.reopen(T0 + 7 * H))[-1] == ("breach", 1.0, T0 + 7 * H)


def test_an_untargeted_clock_counts_silently_until_it_gets_a_target() -> None:
    c = clock(None)
    assert (c.next_due_ms(), c.deadline_ms(), c.remaining_ms(T0 + H)) == (None, None, None)
    assert c.advance(T0 + 3 * H) == []
    assert c.stop(T0 + 3 * H) == []
    c.reopen(T0 + 3 * H)
    assert fired(c.change_priority("P1", 4 * H, T0 + 3 * H)) == [
        ("warning", 0.5, T0 + 3 * H),
        ("warning", 0.75, T0 + 3 * H),
    ]
    assert c.deadline_ms() == T0 + 4 * H


def test_operations_in_the_past_ask_for_a_replay() -> None:
    c = clock()
    c.advance(T0 + 2 * H)
    with pytest.raises(OutOfOrderError, match="replay"):
        c.stop(T0 + H)
    assert c.advance(T0 + H) == []  # advancing backwards is simply nothing


def test_copy_is_independent() -> None:
    c = clock()
    snapshot = c.copy()
    c.advance(T0 + 3 * H)
    assert snapshot.elapsed_ms == 0
    assert snapshot.fired == frozenset()
    assert c.fired == {0.5, 0.75}


@pytest.mark.parametrize("target", [0, -1])
def test_targets_must_be_positive(target: int) -> None:
    with pytest.raises(ValueError, match="target_ms"):
        clock(target)
    with pytest.raises(ValueError, match="target_ms"):
        clock().change_priority("P2", target, T0)


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5])
def test_warn_fractions_lie_strictly_between_0_and_1(fraction: float) -> None:
    # (a negative mark is a `warn_before` in seconds; the policy refuses negative fractions)
    with pytest.raises(ValueError, match="warn_at"):
        Clock.start(
            ticket_id="T",
            service="s",
            metric="response",
            policy="p",
            priority="P1",
            target_ms=H,
            calendar=CALENDAR_24X7,
            warn_at=[fraction],
            at_ms=T0,
        )


def test_warn_before_fires_that_much_working_time_before_the_deadline_once() -> None:
    from sla_engine.domain.rules import warn_before_mark

    c = Clock.start(
        ticket_id="T-1",
        service="checkout",
        metric="resolution",
        policy="gold",
        priority="P1",
        target_ms=4 * H,
        calendar=CALENDAR_24X7,
        warn_at=(0.5, warn_before_mark(15 * 60), warn_before_mark(5 * H)),
        at_ms=T0,
    )
    # the 5 h one is longer than the whole 4 h target: there is no such instant
    assert c.next_due_ms() == T0 + 2 * H
    intents = c.advance(T0 + 5 * H)
    assert [(i.kind, i.threshold, i.occurred_at_ms) for i in intents] == [
        ("warning", 0.5, T0 + 2 * H),
        ("warning", -900.0, T0 + 4 * H - 15 * 60_000),
        ("breach", 1.0, T0 + 4 * H),
    ]
    assert intents[1].elapsed_ms == 4 * H - 15 * 60_000
    # a priority change after it does not fire it again
    assert [i.kind for i in c.change_priority("P2", 8 * H, T0 + 5 * H)] == []


def test_advance_due_fires_a_passed_threshold_of_an_inconsistent_snapshot_and_stops() -> None:
    c = clock()
    c.elapsed_ms = 5 * H  # as a snapshot written under a longer target might hold it
    intents = c.advance_due(T0 + H)
    assert [i.kind for i in intents] == ["warning", "warning", "warning", "breach"]
    assert all(i.occurred_at_ms == T0 for i in intents)
    assert c.advance_due(T0 + 2 * H) == []
