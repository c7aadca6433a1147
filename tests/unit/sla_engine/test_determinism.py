"""The same events give the same signals, whatever their batching and order: a late event that
moves a fired signal retracts it as it fired and fires it as it now stands, under an id of its
own (docs/design.md, "The same events, the same signals")."""

from __future__ import annotations

from datetime import UTC, datetime

from pacta.calendars import CALENDAR_24X7
from pacta.durations import datetime_to_ms
from sla_engine.domain.rules import ClockRules
from sla_engine.domain.ticket_log import TicketEvent
from sla_engine.domain.tickets import Ticket, fire_due, replay_all
from tests.unit.sla_engine.domain_engine import DomainEngine

M = 60_000
H = 60 * M
RULES = ClockRules(
    policy="p",
    calendar=CALENDAR_24X7,
    targets={"P1": {"response": 15 * M, "resolution": 4 * H}, "P4": {"resolution": 48 * H}},
    pause_statuses=frozenset({"waiting_for_customer"}),
)


def at(text: str) -> int:
    return datetime_to_ms(datetime.fromisoformat(text).replace(tzinfo=UTC))


CASE_1 = [
    TicketEvent(at("2026-10-30T13:00"), "created", "open", "P4"),
    TicketEvent(at("2026-10-30T13:10"), "responded", "in_progress"),
    TicketEvent(at("2026-10-30T13:30"), "updated", priority="P1"),
    TicketEvent(at("2026-10-30T21:00"), "resolved", "resolved"),
]
NOW = at("2026-12-07T01:00")


def breaches(engine: DomainEngine) -> list[tuple[str | None, int]]:
    return sorted((stamp[2], stamp[0]) for key, stamp in engine.in_force() if key[2] == "breach")


def test_a_late_priority_change_moves_the_breach_to_the_new_priority_one_event_at_a_time() -> None:
    one = DomainEngine(lambda _t: RULES)
    for n, event in enumerate(CASE_1):
        one.deliver([("T-1", event)], NOW + n * 1000)
    assert breaches(one) == [("P1", at("2026-10-30T17:00"))]
    # the P4 breach fired with the first event was retracted, and the P1 one has its own id
    ids = {r.signal_id: r.retracted for r in one.signals if r.key[2] == "breach"}
    assert ids == {"T-1/resolution/breach/1": True, "T-1/resolution/breach/1#2": False}


def test_case_1_as_one_batch_gives_the_same_signals() -> None:
    one, batch = DomainEngine(lambda _t: RULES), DomainEngine(lambda _t: RULES)
    for n, event in enumerate(CASE_1):
        one.deliver([("T-1", event)], NOW + n * 1000)
    batch.deliver([("T-1", e) for e in CASE_1], NOW)
    assert batch.in_force() == one.in_force()
    assert batch.clocks() == one.clocks()
    assert breaches(batch) == [("P1", at("2026-10-30T17:00"))]


# ---- found by the property test (test_properties_tickets.py), kept as regression cases ----

T0 = at("2026-10-27T10:00")
LATER = at("2026-11-05T00:00")


def test_events_at_one_instant_apply_in_the_same_order_whichever_arrives_first() -> None:
    """A pause at the very instant of the creation, delivered first: the ticket is paused
    from its start either way (it had started running, and breached, when the creation
    came second and was taken as the newer event)."""
    created = TicketEvent(T0, "created", "open", "P1")
    waiting = TicketEvent(T0, "updated", "waiting_for_customer")
    first, second = DomainEngine(lambda _t: RULES), DomainEngine(lambda _t: RULES)
    first.deliver([("T-1", created)], LATER)
    first.deliver([("T-1", waiting)], LATER)
    second.deliver([("T-1", waiting)], LATER)
    second.deliver([("T-1", created)], LATER)
    assert second.in_force() == first.in_force() == set()
    assert second.clocks() == first.clocks()
    assert {state[0] for state in first.clocks().values()} == {"paused"}


def test_a_response_at_the_instant_of_creation_is_met_whichever_arrives_first() -> None:
    created = TicketEvent(T0, "created", "open", "P1")
    responded = TicketEvent(T0, "responded", "in_progress")
    first, second = DomainEngine(lambda _t: RULES), DomainEngine(lambda _t: RULES)
    first.deliver([("T-1", created)], LATER)
    first.deliver([("T-1", responded)], LATER)
    second.deliver([("T-1", responded)], LATER)
    second.deliver([("T-1", created)], LATER)
    assert second.in_force() == first.in_force()
    assert ("T-1", "response", "met", 1.0, 1) in {key for key, _stamp in first.in_force()}


def test_a_replay_up_to_a_watermark_leaves_the_signals_after_it_standing() -> None:
    """A backfill judges a ticket at its history's instant: a replay there cannot see the
    signals standing after it, and must not retract them only to fire them again later."""
    t = Ticket(ticket_id="T-1", service="s", customer=None, ticket_type="incident", rules=RULES)
    created = TicketEvent(T0, "created", "open", "P1")
    first = replay_all(t, [created], T0 + 5 * H)
    breach = ("T-1", "resolution", "breach", 1.0, 1)
    assert breach in {i.key for i in first.intents}
    # a late event an hour in, replayed at a watermark before the breach: the breach stands
    noted = TicketEvent(T0 + H, "updated", "open")
    held = replay_all(t, [created, noted], T0 + 2 * H)
    assert breach not in held.retracted
    assert breach in t.emitted
    # the clock gets there as it stood: nothing new; had it moved, it would fire again
    assert [i.key for i in fire_due(t, T0 + 5 * H).intents if i.key == breach] == []


def test_a_standing_signal_after_a_watermark_that_moved_is_retracted_and_fired_when_due() -> None:
    t = Ticket(ticket_id="T-1", service="s", customer=None, ticket_type="incident", rules=RULES)
    created = TicketEvent(T0, "created", "open", "P1")
    replay_all(t, [created], T0 + 5 * H)
    breach = ("T-1", "resolution", "breach", 1.0, 1)
    # a pause an hour in, replayed at a watermark before the breach: the clocks, running on,
    # breach an hour later than it fired: retracted now ...
    waiting = TicketEvent(T0 + H, "updated", "waiting_for_customer")
    resumed = TicketEvent(T0 + 2 * H, "updated", "open")
    held = replay_all(t, [created, waiting, resumed], T0 + 2 * H)
    assert breach in held.retracted
    assert breach not in t.emitted
    # ... and fired as it stands when the clock gets there
    due = fire_due(t, T0 + 6 * H)
    assert [i.occurred_at_ms for i in due.intents if i.key == breach] == [T0 + 5 * H]


def test_a_late_resolve_replayed_at_a_watermark_still_retracts_the_breach_it_disproves() -> None:
    """The resolve comes late, alone: its partition is judged at its instant, before the
    breach. The breach is after what the replay judged, but the stopped clock will never give
    it: retracted, and the met fires."""
    t = Ticket(ticket_id="T-1", service="s", customer=None, ticket_type="incident", rules=RULES)
    created = TicketEvent(T0, "created", "open", "P1")
    replay_all(t, [created], T0 + 5 * H)
    breach = ("T-1", "resolution", "breach", 1.0, 1)
    resolved = TicketEvent(T0 + 3 * H, "resolved", "resolved")
    outcome = replay_all(t, [created, resolved], T0 + 3 * H)  # the watermark: the resolve
    assert breach in outcome.retracted
    assert ("T-1", "resolution", "met", 1.0, 1) in {i.key for i in outcome.intents}
