"""Issue 10 in the pure core: each occurrence of a clock condition has a key of its own, a
replay retracts whatever it no longer produces, signals carry the elapsed time of their own
instant, a breached clock that stops says `stopped`, in-order events never force a replay, and
a policy change applies from its instant."""

from __future__ import annotations

from pacta.calendars import CALENDAR_24X7
from sla_engine.domain.clocks import SignalIntent
from sla_engine.domain.rules import ClockRules
from sla_engine.domain.ticket_log import RulesChange, TicketEvent, diff_signals, replay
from sla_engine.domain.tickets import Ticket, apply_in_order, fire_due, replay_all

M = 60_000
T0 = 1_780_000_000_000
H = 3_600_000
RULES = ClockRules(
    policy="p",
    calendar=CALENDAR_24X7,
    targets={
        "P1": {"response": 5 * M, "resolution": 3 * M},
        "P2": {"response": H, "resolution": 30 * M},
    },
    pause_statuses=frozenset({"waiting_for_customer"}),
    warn_at=(0.5,),
)


def ticket(rules: ClockRules = RULES) -> Ticket:
    return Ticket(ticket_id="T-1", service="s", customer=None, ticket_type="incident", rules=rules)


def of(intents: list[SignalIntent], metric: str = "resolution") -> list[tuple[str, int, int]]:
    return [(i.kind, i.episode, i.occurred_at_ms) for i in intents if i.metric == metric]


def test_a_breach_after_a_retraction_is_a_new_occurrence_the_timer_fires() -> None:
    t = ticket()
    created = TicketEvent(T0, "created", "open", "P1")
    first = replay_all(t, [created], T0 + 4 * M)
    assert ("breach", 1, T0 + 3 * M) in of(first.intents)
    # the late pause proves the breach wrong: retracted
    waiting = TicketEvent(T0 + M, "updated", "waiting_for_customer")
    second = replay_all(t, [created, waiting], T0 + 4 * M)
    assert ("T-1", "resolution", "breach", 1.0, 1) in second.retracted
    # back to open at T0 + 4m: 2 more minutes count, the breach falls due again and fires
    opened = TicketEvent(T0 + 4 * M, "updated", "open")
    assert apply_in_order(t, [opened], T0 + 4 * M) is not None
    due = fire_due(t, T0 + 6 * M)
    # the retracted 50 % warning comes again too, then the breach (the shell gives it id #2)
    assert of(due.intents) == [("warning", 1, T0 + 4 * M + 30_000), ("breach", 1, T0 + 6 * M)]


def test_a_reopened_overdue_clock_breaches_again_in_a_new_episode() -> None:
    events = [
        TicketEvent(T0, "created", "open", "P1"),
        TicketEvent(T0 + 10 * M, "resolved", "resolved"),
        TicketEvent(T0 + 20 * M, "reopened", "open"),
        TicketEvent(T0 + 30 * M, "resolved", "resolved"),
    ]
    _, intents = replay(events, ticket_id="T-1", service="s", rules=RULES, now_ms=T0 + H)
    assert [(k, e, at) for k, e, at in of(intents) if k != "warning"] == [
        ("breach", 1, T0 + 3 * M),
        ("stopped", 1, T0 + 10 * M),
        ("breach", 2, T0 + 20 * M),
        ("stopped", 2, T0 + 30 * M),
    ]
    assert len({i.key for i in intents}) == len(intents)


def test_a_met_that_a_late_created_disproves_is_retracted() -> None:
    t = ticket()
    responded = TicketEvent(T0 + 10 * M, "responded", "in_progress", "P1")
    early = replay_all(t, [responded], T0 + 20 * M)
    assert ("met", 1, T0 + 10 * M) in of(early.intents, "response")
    created = TicketEvent(T0, "created", "open", "P1")
    late = replay_all(t, [created, responded], T0 + 20 * M)
    assert ("T-1", "response", "met", 1.0, 1) in late.retracted
    assert of(late.intents, "response") == [
        ("warning", 1, T0 + 150_000),
        ("breach", 1, T0 + 5 * M),
        ("stopped", 1, T0 + 10 * M),
    ]


def test_signals_carry_the_elapsed_time_of_their_own_instant() -> None:
    events = [
        TicketEvent(T0, "created", "open", "P2"),  # 30 m resolution target
        TicketEvent(T0 + 25 * M, "updated", priority="P1"),  # 3 m target, 25 m counted
    ]
    _, intents = replay(events, ticket_id="T-1", service="s", rules=RULES, now_ms=T0 + 2 * H)
    by_kind = {(i.kind, i.threshold): i for i in intents if i.metric == "resolution"}
    assert by_kind[("warning", 0.5)].elapsed_ms == 15 * M  # at its instant, not at detection
    breach = by_kind[("breach", 1.0)]
    assert (breach.occurred_at_ms, breach.elapsed_ms, breach.target_ms) == (
        T0 + 25 * M,
        25 * M,
        3 * M,
    )


def test_in_order_events_after_a_fired_threshold_need_no_replay() -> None:
    t = ticket()
    created = TicketEvent(T0, "created", "open", "P1")
    replay_all(t, [created], T0 + 10 * M)  # the breach at T0 + 3m fired during the replay
    # an event older than the processing instant but newer than everything seen applies
    assert apply_in_order(t, [TicketEvent(T0 + 5 * M, "resolved", "resolved")], T0 + 10 * M)
    assert t.clocks["resolution"].stopped_at_ms == T0 + 5 * M


def test_a_policy_put_after_the_ticket_starts_its_clocks_then_not_before() -> None:
    events = [TicketEvent(T0, "created", "open", "P1")]
    change = RulesChange(T0 + 10 * M, RULES)
    clocks, intents = replay(
        events, ticket_id="T-1", service="s", rules=None, now_ms=T0 + 12 * M, changes=[change]
    )
    assert clocks["resolution"].started_at_ms == T0 + 10 * M
    assert [i.kind for i in intents if i.metric == "resolution"] == ["warning"]  # no back-dated
    assert clocks["resolution"].next_due_ms() == T0 + 13 * M


def test_a_deleted_policy_stops_its_clocks_and_tells_a_breach_is_over() -> None:
    events = [TicketEvent(T0, "created", "open", "P1")]
    gone = RulesChange(T0 + 4 * M, None)
    clocks, intents = replay(
        events, ticket_id="T-1", service="s", rules=RULES, now_ms=T0 + H, changes=[gone]
    )
    assert of(intents)[-2:] == [("breach", 1, T0 + 3 * M), ("stopped", 1, T0 + 4 * M)]
    assert set(clocks) == {"resolution"}  # the response clock never ended: not measured
    assert clocks["resolution"].next_due_ms() is None


def test_every_vanished_signal_is_retracted() -> None:
    _, intents = replay(
        [TicketEvent(T0, "created", "open", "P1")],
        ticket_id="T-1",
        service="s",
        rules=RULES,
        now_ms=T0 + 4 * M,
    )
    _, to_retract = diff_signals({i.key: i.stamp for i in intents}, [])
    assert {k[2] for k in to_retract} == {"warning", "breach"}


def test_a_changed_policy_keeps_the_elapsed_time_and_applies_its_target_from_then_on() -> None:
    events = [TicketEvent(T0, "created", "open", "P2")]  # 30 m resolution target
    tighter = ClockRules(
        policy="p",
        calendar=CALENDAR_24X7,
        targets={"P2": {"response": H, "resolution": 10 * M}},
        warn_at=(),
    )
    clocks, intents = replay(
        events,
        ticket_id="T-1",
        service="s",
        rules=RULES,
        now_ms=T0 + 20 * M,
        changes=[RulesChange(T0 + 15 * M, tighter)],
    )
    breach = next(i for i in intents if i.kind == "breach" and i.metric == "resolution")
    # 15 m counted under the old policy already exceed the new 10 m: a breach at the change
    assert (breach.occurred_at_ms, breach.elapsed_ms, breach.target_ms) == (
        T0 + 15 * M,
        15 * M,
        10 * M,
    )
    assert clocks["resolution"].warn_at == ()


def test_an_event_that_moves_one_clock_leaves_the_other_unchanged_for_the_shell() -> None:
    t = ticket()
    replay_all(t, [TicketEvent(T0, "created", "open", "P2")], T0 + M)
    outcome = apply_in_order(t, [TicketEvent(T0 + 2 * M, "responded")], T0 + 2 * M)
    assert outcome is not None
    assert outcome.unchanged == frozenset({"resolution"})  # its row and fact need no rewrite
    # a status that pauses nothing new moves nothing; a pause moves both (even the stopped
    # one keeps the flag, for a reopen)
    outcome = apply_in_order(t, [TicketEvent(T0 + 3 * M, "updated", "open")], T0 + 3 * M)
    assert outcome is not None
    # ...but one row is written all the same: it carries the ticket's newer last event
    assert len(outcome.unchanged) == 1
    waiting = TicketEvent(T0 + 4 * M, "updated", "waiting_for_customer")
    outcome = apply_in_order(t, [waiting], T0 + 4 * M)
    assert outcome is not None
    assert outcome.unchanged == frozenset()
    assert t.clocks["resolution"].elapsed_ms == 4 * M


def test_a_replay_leaves_unchanged_clocks_unwritten_but_always_one_row() -> None:
    from sla_engine.domain.tickets import stored_state, unchanged_by_replay

    t = ticket()
    created = TicketEvent(T0, "created", "open", "P2")
    replay_all(t, [created], T0 + 2 * H)  # both breached by now
    held = stored_state(t)
    # a late response: the response clock is met after all, the resolution clock stays
    responded = TicketEvent(T0 + M, "responded")
    outcome = unchanged_by_replay(held, t, replay_all(t, [created, responded], T0 + 2 * H))
    assert outcome.unchanged == frozenset({"resolution"})
    # nothing moved at all: one row still goes (it carries the newer last event)
    again = unchanged_by_replay(stored_state(t), t, replay_all(t, [created, responded], T0 + 2 * H))
    assert len(again.unchanged) == 1
    # new labels: every row carries them
    t.labels = {"team": "x"}
    relabelled = unchanged_by_replay(held, t, replay_all(t, [created, responded], T0 + 2 * H))
    assert relabelled.unchanged == frozenset()
