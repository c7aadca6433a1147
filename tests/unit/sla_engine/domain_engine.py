"""The engine's ticket path on pure values, for tests: what the keeper decides (in order or a
replay, timers, the book dropping settled tickets, a restart from the stored clocks) and what
its signals table records (standing signals, retractions, the occurrence of each id), with
the domain doing every computation, as it does in the engine."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sla_engine.domain.clocks import Clock, Metric, SignalIntent, SignalKey, Stamp
from sla_engine.domain.rules import ClockRules
from sla_engine.domain.signals import clock_signal_id
from sla_engine.domain.ticket_log import TicketEvent
from sla_engine.domain.tickets import Outcome, Ticket, apply_in_order, fire_due, replay_all


@dataclass(slots=True)
class Recorded:
    """One row of the signals table."""

    signal_id: str
    key: SignalKey
    stamp: Stamp
    retracted: bool = False


class DomainEngine:
    """Tickets applied as the keeper applies them: `deliver` is one consumed batch, `tick` the
    timer task at a wall instant, `restart` a new process that loads the stored clocks."""

    def __init__(self, rules_of: Callable[[str], ClockRules]) -> None:
        self.rules_of = rules_of
        self.journal: dict[str, list[TicketEvent]] = {}
        self.book: dict[str, Ticket] = {}
        self.rows: dict[str, dict[Metric, Clock]] = {}  # the clocks table, as persisted
        self.signals: list[Recorded] = []
        self.replays = 0

    def deliver(self, events: Iterable[tuple[str, TicketEvent]], now_ms: int) -> None:
        by_ticket: dict[str, list[TicketEvent]] = {}
        for ticket_id, event in events:
            by_ticket.setdefault(ticket_id, []).append(event)
            self.journal.setdefault(ticket_id, []).append(event)
        for ticket_id, group in by_ticket.items():
            held = self.book.get(ticket_id)
            outcome = apply_in_order(held, group, now_ms) if held is not None else None
            if held is None or outcome is None:
                held, outcome = self._replay(ticket_id, now_ms)
            self._persist(held, outcome)

    def tick(self, now_ms: int) -> None:
        """Fire every ticket whose next instant has come by `now_ms`."""
        for ticket in list(self.book.values()):
            due = ticket.next_due_ms()
            if due is not None and due <= now_ms:
                self._persist(ticket, fire_due(ticket, now_ms))

    def restart(self) -> None:
        """A new process: open tickets come back from their stored clocks and standing
        signals, everything else from the journal when an event names it."""
        self.book = {}
        for ticket_id, clocks in self.rows.items():
            if not any(not c.stopped for c in clocks.values()):
                continue
            ticket = self._new(ticket_id)
            ticket.clocks = {m: c.copy() for m, c in clocks.items()}
            ticket.last_event_ms = max(e.at_ms for e in self.journal[ticket_id])
            ticket.emitted = self._standing(ticket_id)
            self.book[ticket_id] = ticket

    # ---- what the engine ends with -------------------------------------------------------

    def in_force(self) -> set[tuple[SignalKey, Stamp]]:
        """The signals standing (not retracted), by what they say (ids aside: an occurrence
        fired after a retraction of it is `#2`)."""
        return {(r.key, r.stamp) for r in self.signals if not r.retracted}

    def clocks(self) -> dict[tuple[str, Metric], tuple[object, ...]]:
        """What each clock ended as (not how far it happens to be accounted)."""
        return {
            (ticket_id, m): (
                c.api_state,
                c.priority,
                c.target_ms,
                c.started_at_ms,
                c.stopped_at_ms,
                c.breached_at_ms,
                c.elapsed_ms if c.stopped else None,
                c.episode,
                c.paused,
            )
            for ticket_id, clocks in self.rows.items()
            for m, c in clocks.items()
        }

    # ---- the keeper's steps --------------------------------------------------------------

    def _new(self, ticket_id: str) -> Ticket:
        return Ticket(
            ticket_id=ticket_id,
            service="s",
            customer=None,
            ticket_type="incident",
            rules=self.rules_of(ticket_id),
        )

    def _standing(self, ticket_id: str) -> dict[SignalKey, Stamp]:
        return {r.key: r.stamp for r in self.signals if r.key[0] == ticket_id and not r.retracted}

    def _replay(self, ticket_id: str, now_ms: int) -> tuple[Ticket, Outcome]:
        self.replays += 1
        ticket = self._new(ticket_id)
        ticket.emitted = self._standing(ticket_id)
        outcome = replay_all(ticket, self.journal[ticket_id], now_ms)
        self.book[ticket_id] = ticket
        return ticket, outcome

    def _persist(self, ticket: Ticket, outcome: Outcome) -> None:
        retracting = set(outcome.retracted)
        for record in self.signals:
            if record.key in retracting and not record.retracted:
                record.retracted = True
        for intent in outcome.intents:
            self._record(intent)
        self.rows[ticket.ticket_id] = {m: c.copy() for m, c in ticket.clocks.items()}
        if ticket.next_due_ms() is None and not ticket.open:
            self.book.pop(ticket.ticket_id, None)  # settled: the book keeps open clocks only

    def _record(self, intent: SignalIntent) -> None:
        retracted = sum(1 for r in self.signals if r.key == intent.key and r.retracted)
        signal_id = clock_signal_id(intent.key, retracted + 1)
        assert all(r.signal_id != signal_id for r in self.signals), f"{signal_id} reused"
        assert all(r.retracted for r in self.signals if r.key == intent.key), (
            f"{signal_id}: two standing occurrences of one condition"
        )
        self.signals.append(Recorded(signal_id, intent.key, intent.stamp))
