"""A ticket's event log -> its clocks: lifecycle rules, late and out-of-order events, retraction."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from pacta.calendars import CALENDAR_24X7, WEEKDAYS, Calendar
from pacta.durations import datetime_to_ms
from sla_engine.domain.clocks import Clock, Metric, SignalIntent
from sla_engine.domain.rules import ClockRules
from sla_engine.domain.ticket_log import (
    TicketEvent,
    apply_event,
    diff_signals,
    event_order,
    replay,
)

H = 3_600_000
M = 60_000
T0 = datetime_to_ms(datetime(2026, 6, 1, 8, tzinfo=ZoneInfo("Europe/Berlin")))  # a Monday
TARGETS = {
    "P1": {"response": 15 * M, "resolution": 4 * H},
    "P2": {"response": H, "resolution": 8 * H},
}
OFFICE = Calendar("office", "Europe/Berlin", {d: ["09:00-17:00"] for d in WEEKDAYS[:5]})


def rules(calendar: Calendar = CALENDAR_24X7) -> ClockRules:
    return ClockRules(
        policy="gold",
        calendar=calendar,
        targets=TARGETS,
        pause_statuses=frozenset({"waiting_for_customer"}),
        warn_at=(0.5, 0.75, 0.9),
    )


def run(
    events: list[TicketEvent], now_ms: int, calendar: Calendar = CALENDAR_24X7
) -> tuple[dict[Metric, Clock], list[SignalIntent]]:
    return replay(events, ticket_id="T-1", service="checkout", rules=rules(calendar), now_ms=now_ms)


def kinds(intents: list[SignalIntent], metric: Metric) -> list[tuple[str, float, int]]:
    return [(i.kind, i.threshold, i.occurred_at_ms) for i in intents if i.metric == metric]


def test_response_and_resolution_met() -> None:
    clocks, intents = run(
        [
            TicketEvent(T0, "created", "open", "P1"),
            TicketEvent(T0 + 5 * M, "responded", "in_progress"),
            TicketEvent(T0 + H, "resolved", "resolved"),
        ],
        now_ms=T0 + 10 * H,
    )
    assert kinds(intents, "response") == [("met", 1.0, T0 + 5 * M)]
    assert kinds(intents, "resolution") == [("met", 1.0, T0 + H)]
    assert {m: c.api_state for m, c in clocks.items()} == {"response": "met", "resolution": "met"}


def test_resolving_before_any_response_stops_both_clocks() -> None:
    clocks, intents = run(
        [TicketEvent(T0, "created", "open", "P1"), TicketEvent(T0 + 10 * M, "resolved")],
        now_ms=T0 + 10 * H,
    )
    assert kinds(intents, "response")[-1] == ("met", 1.0, T0 + 10 * M)
    assert clocks["response"].stopped_at_ms == clocks["resolution"].stopped_at_ms == T0 + 10 * M


def test_closing_stops_both_clocks_and_reopen_resumes_only_resolution() -> None:
    clocks, _ = run(
        [
            TicketEvent(T0, "created", "open", "P1"),
            TicketEvent(T0 + 10 * M, "closed"),
            TicketEvent(T0 + 5 * H, "reopened", "open"),
        ],
        now_ms=T0 + 6 * H,
    )
    assert clocks["response"].stopped
    assert clocks["resolution"].api_state == "running"
    assert clocks["resolution"].elapsed_at(T0 + 6 * H) == 10 * M + H
    assert clocks["resolution"].deadline_ms() == T0 + 5 * H + 4 * H - 10 * M


def test_pause_statuses_and_priority_changes_from_updates() -> None:
    clocks, intents = run(
        [
            TicketEvent(T0, "created", "open", "P2"),
            TicketEvent(T0 + 2 * H, "updated", "waiting_for_customer"),
            TicketEvent(T0 + 5 * H, "updated", "open"),
            TicketEvent(T0 + 6 * H, "updated", priority="P1"),  # 3 h elapsed, then a 4 h target
        ],
        now_ms=T0 + 8 * H,
    )
    resolution = clocks["resolution"]
    assert (resolution.priority, resolution.target_ms, resolution.elapsed_at(T0 + 8 * H)) == (
        "P1",
        4 * H,
        5 * H,
    )
    assert kinds(intents, "resolution") == [
        # 3 h counted: 50 % of 8 h not reached; 50 % and 75 % of 4 h passed, so they fire now
        ("warning", 0.5, T0 + 6 * H),
        ("warning", 0.75, T0 + 6 * H),
        ("warning", 0.9, T0 + 6 * H + 36 * M),
        ("breach", 1.0, T0 + 7 * H),
    ]


def test_untargeted_priorities_count_but_signal_nothing() -> None:
    clocks, intents = run([TicketEvent(T0, "created", "open", "P4")], now_ms=T0 + 100 * H)
    assert intents == []
    assert clocks["resolution"].elapsed_at(T0 + 100 * H) == 100 * H
    _, intents = run(
        [
            TicketEvent(T0, "created", "open", "P4"),
            TicketEvent(T0 + 10 * H, "updated", priority="P1"),
        ],
        now_ms=T0 + 10 * H,
    )
    assert ("breach", 1.0, T0 + 10 * H) in kinds(intents, "resolution")


def test_a_ticket_first_seen_resolved_has_no_clocks() -> None:
    clocks, intents = run([TicketEvent(T0, "resolved", "resolved", "P1")], now_ms=T0 + 10 * H)
    assert (clocks, intents) == ({}, [])


def test_event_order_in_the_log_does_not_matter() -> None:
    events = [
        TicketEvent(T0, "created", "open", "P1"),
        TicketEvent(T0 + H, "updated", "waiting_for_customer"),
        TicketEvent(T0 + 3 * H, "resolved", "resolved"),
        TicketEvent(T0 + 3 * H, "reopened", "open"),  # same instant: lifecycle order decides
        TicketEvent(T0 + 4 * H, "updated", "open"),
    ]
    _, forwards = run(events, now_ms=T0 + 20 * H)
    _, backwards = run(events[::-1], now_ms=T0 + 20 * H)
    assert forwards == backwards
    # 1 h counted before the pause; the reopen at 3 h resumes with status open: 3 h more to go
    assert kinds(forwards, "resolution")[-1] == ("breach", 1.0, T0 + 6 * H)


def test_a_late_resolve_retracts_the_breach_and_makes_it_met() -> None:
    created = TicketEvent(T0, "created", "open", "P1")
    _, first = run([created], now_ms=T0 + 5 * H)
    emitted = {i.key: i.stamp for i in first}
    assert ("T-1", "resolution", "breach", 1.0, 1) in emitted
    # the ticket system delivers late: the ticket was resolved at 3 h, before the 4 h deadline
    _, second = run([TicketEvent(T0 + 3 * H, "resolved"), created], now_ms=T0 + 5 * H)
    to_emit, to_retract = diff_signals(emitted, second)
    # the breach is retracted; so would be the 90 % warning (the shell retracts only breaches)
    assert to_retract == [
        ("T-1", "resolution", "breach", 1.0, 1),
        ("T-1", "resolution", "warning", 0.9, 1),
    ]
    assert [(i.kind, i.metric, i.occurred_at_ms) for i in to_emit] == [
        ("stopped", "response", T0 + 3 * H),  # the response clock had breached: all-clear
        ("met", "resolution", T0 + 3 * H),
    ]


def test_diff_signals_emits_each_key_once() -> None:
    _, intents = run([TicketEvent(T0, "created", "open", "P1")], now_ms=T0 + 5 * H)
    to_emit, to_retract = diff_signals({}, intents + intents)
    assert len(to_emit) == len(intents) == len({i.key for i in intents})
    assert to_retract == []
    assert diff_signals({i.key: i.stamp for i in intents}, intents) == ([], [])


def test_diff_signals_fires_a_moved_signal_again_as_it_now_stands() -> None:
    created = TicketEvent(T0, "created", "open", "P2")
    _, first = run([created], now_ms=T0 + 10 * H)
    emitted = {i.key: i.stamp for i in first}
    # a priority raise at 1 h arrives late: the breach moves from 8 h (P2) to 4 h (P1)
    raised = TicketEvent(T0 + H, "updated", priority="P1")
    _, second = run([created, raised], now_ms=T0 + 10 * H)
    to_emit, to_retract = diff_signals(emitted, second)
    breach = ("T-1", "resolution", "breach", 1.0, 1)
    assert breach in to_retract
    moved = [i for i in to_emit if i.key == breach]
    assert [(i.priority, i.occurred_at_ms) for i in moved] == [("P1", T0 + 4 * H)]


# ---- properties ------------------------------------------------------------------------------

actions = st.sampled_from(["updated", "updated", "responded", "resolved", "closed", "reopened"])
later_events = st.lists(
    st.builds(
        TicketEvent,
        st.integers(0, 60 * H).map(lambda off: T0 + off - off % M),
        actions,
        st.sampled_from([None, "open", "waiting_for_customer"]),
        st.sampled_from([None, None, "P1", "P2", "P3"]),
    ),
    max_size=8,
)
calendars = st.sampled_from([CALENDAR_24X7, OFFICE])
PROPERTY = settings(max_examples=200, deadline=None)


def _signature(intents: list[SignalIntent]) -> list[tuple[object, ...]]:
    return sorted((i.key, i.occurred_at_ms, i.deadline_ms, i.priority) for i in intents)


@PROPERTY
@given(calendars, st.sampled_from(["P1", "P2", "P3"]), later_events, st.data())
def test_incremental_processing_equals_replay(
    calendar: Calendar, priority: str, later: list[TicketEvent], data: st.DataObject
) -> None:
    events = sorted([TicketEvent(T0, "created", "open", priority), *later], key=lambda e: e.at_ms)
    now = T0 + 80 * H
    expected_clocks, expected = run(events, now, calendar)
    # process in order, with timer wake-ups at arbitrary instants between the events
    clocks: dict[Metric, Clock] = {}
    intents: list[SignalIntent] = []
    last = T0
    for event in sorted(events, key=event_order):
        wake = data.draw(st.integers(last, event.at_ms))
        for c in clocks.values():
            intents += c.advance(wake)
        intents += apply_event(
            clocks, event, ticket_id="T-1", service="checkout", rules=rules(calendar)
        )
        last = event.at_ms
    for c in clocks.values():
        intents += c.advance(now)
    assert _signature(intents) == _signature(expected)
    assert {m: (c.elapsed_at(now), c.api_state) for m, c in clocks.items()} == {
        m: (c.elapsed_at(now), c.api_state) for m, c in expected_clocks.items()
    }
    assert len({i.key for i in intents}) == len(intents)  # at most once each


@PROPERTY
@given(calendars, st.integers(0, 40 * H), st.integers(0, 40 * H), later_events)
def test_pausing_never_brings_a_breach_forward(
    calendar: Calendar, pause_at: int, pause_for: int, later: list[TicketEvent]
) -> None:
    events = [TicketEvent(T0, "created", "open", "P1"), *(e for e in later if e.status is None)]
    paused = [
        *events,
        TicketEvent(T0 + pause_at, "updated", "waiting_for_customer"),
        TicketEvent(T0 + pause_at + pause_for, "updated", "open"),
    ]
    now = T0 + 400 * H
    plain_clocks, plain = run(events, now, calendar)
    paused_clocks, with_pause = run(paused, now, calendar)
    for metric in ("response", "resolution"):
        before = [i.occurred_at_ms for i in plain if i.metric == metric and i.kind == "breach"]
        after = [i.occurred_at_ms for i in with_pause if i.metric == metric and i.kind == "breach"]
        if after:
            assert before
            assert after[0] >= before[0]
        assert paused_clocks[metric].elapsed_at(now) <= plain_clocks[metric].elapsed_at(now)
