"""The book of tickets with open clocks: applies ticket events in event time, in order when it
can and by replaying the ticket's whole log when an event arrives out of order. Pure: the shell
hands in events, rules and the current time, and persists what comes out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from types import MappingProxyType

from sla_engine.domain.clocks import Clock as Clock
from sla_engine.domain.clocks import Metric, OutOfOrderError, SignalIntent, SignalKey, Stamp
from sla_engine.domain.rules import ClockRules
from sla_engine.domain.ticket_log import (
    RulesChange,
    TicketEvent,
    apply_event,
    diff_signals,
    event_order,
    replay,
)

NOTHING: Mapping[SignalKey, Stamp] = MappingProxyType({})


@dataclass(slots=True)
class Ticket:
    """A ticket's clocks, what has been signalled for it, and what its events said."""

    ticket_id: str
    service: str
    customer: str | None
    ticket_type: str
    rules: ClockRules
    labels: dict[str, str] = field(default_factory=dict)  # of its latest event carrying any
    clocks: dict[Metric, Clock] = field(default_factory=dict)
    last_event_ms: int = 0
    # what stands of its signals (emitted, not retracted), by key: what each says; replaced,
    # never mutated: most open tickets have emitted nothing and share the empty one
    emitted: Mapping[SignalKey, Stamp] = field(default_factory=lambda: NOTHING)
    version: int = 0
    counted: int = 0  # this ticket's share of the keeper's open-clock gauge, as last counted
    # True: none of its signals was ever retracted, as its holder knows from its first event
    # on (the next occurrence of a condition is its first: no count to read)
    never_retracted: bool = False

    @property
    def open(self) -> bool:
        return any(not c.stopped for c in self.clocks.values())

    def next_due_ms(self) -> int | None:
        dues = [d for c in self.clocks.values() if (d := c.next_due_ms()) is not None]
        return min(dues) if dues else None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What applying events or time to a ticket produced."""

    intents: list[SignalIntent]
    retracted: list[SignalKey]
    unchanged: frozenset[Metric] = frozenset()  # clocks whose stored snapshot still holds


def apply_in_order(ticket: Ticket, events: Iterable[TicketEvent], now_ms: int) -> Outcome | None:
    """Apply events newer than everything seen; None if one is older (the caller replays).

    Clocks are not advanced to `now_ms`, only to what falls due by then, so a slightly
    delayed next event still counts as in order.
    """
    ordered = sorted(events, key=event_order)
    if ordered and ordered[0].at_ms <= ticket.last_event_ms:
        # older than the latest event, or at its instant, where the events applied may have
        # to come after it (`event_order`): only a replay places it
        return None
    snapshot = [(m, _copy(c)) for m, c in ticket.clocks.items()]
    before, last_before = _signatures(ticket), ticket.last_event_ms
    intents: list[SignalIntent] = []
    try:
        for event in ordered:
            intents += apply_event(
                ticket.clocks,
                event,
                ticket_id=ticket.ticket_id,
                service=ticket.service,
                rules=ticket.rules,
            )
            ticket.last_event_ms = max(ticket.last_event_ms, event.at_ms)
    except OutOfOrderError:
        # a timer advanced a clock past this event's time: only a replay can place it
        ticket.clocks = dict(snapshot)
        return None
    intents += advance_due(ticket, now_ms)
    unchanged = _same(before, ticket)
    if ticket.last_event_ms != last_before and unchanged == frozenset(ticket.clocks):
        # one row must carry the newer last event (a restart tells in-order events by it)
        unchanged = unchanged - {next(iter(ticket.clocks))}
    return _settle(ticket, intents, [], unchanged)


def replay_all(
    ticket: Ticket,
    log: Iterable[TicketEvent],
    now_ms: int,
    *,
    initial: ClockRules | None = None,
    changes: Sequence[RulesChange] = (),
) -> Outcome:
    """Recompute the ticket from its whole event log (measured by `initial` until the first of
    `changes`, by `ticket.rules` when there are none); diff against what stands of its signals
    (`ticket.emitted`): retract whatever the log no longer produces or produces otherwise, and
    emit what it produces anew."""
    events = list(log)
    clocks, intents = replay(
        events,
        ticket_id=ticket.ticket_id,
        service=ticket.service,
        rules=initial if changes else ticket.rules,
        now_ms=now_ms,
        changes=changes,
    )
    ticket.clocks = clocks
    ticket.last_event_ms = max((e.at_ms for e in events), default=ticket.last_event_ms)
    to_emit, retracted = diff_signals(ticket.emitted, intents, _ahead(ticket, clocks, now_ms))
    if retracted:
        gone = set(retracted)
        ticket.emitted = {k: v for k, v in ticket.emitted.items() if k not in gone}
    return _settle(ticket, to_emit, retracted)


def _ahead(ticket: Ticket, clocks: Mapping[Metric, Clock], now_ms: int) -> set[SignalKey]:
    """The standing signals after `now_ms` (a replay judged at a backfill's watermark) that the
    replayed clocks, running on as they stand, give again just as they stand."""
    later = [stamp[0] for stamp in ticket.emitted.values() if stamp[0] > now_ms]
    if not later:
        return set()
    projected = [i for c in clocks.values() for i in c.copy().advance_due(max(later))]
    return {i.key for i in projected if ticket.emitted.get(i.key) == i.stamp}


def advance_due(ticket: Ticket, now_ms: int) -> list[SignalIntent]:
    """Fire whatever is due by `now_ms` (the timer's path)."""
    intents: list[SignalIntent] = []
    for clock in ticket.clocks.values():
        intents += clock.advance_due(now_ms)
    return intents


def fire_due(ticket: Ticket, now_ms: int) -> Outcome:
    before = _signatures(ticket)
    return _settle(ticket, advance_due(ticket, now_ms), [], _same(before, ticket))


def _settle(
    ticket: Ticket,
    intents: list[SignalIntent],
    retracted: list[SignalKey],
    unchanged: frozenset[Metric] = frozenset(),
) -> Outcome:
    fresh = [i for i in intents if ticket.emitted.get(i.key) != i.stamp]
    # one standing that says otherwise (a replay up to a backfill's watermark left it, and
    # the clock got there another way) is retracted as it fired, and fired as it now stands
    moved = [i.key for i in fresh if i.key in ticket.emitted and i.key not in retracted]
    if fresh:
        ticket.emitted = {**ticket.emitted, **{i.key: i.stamp for i in fresh}}
    retracted = [*retracted, *moved]
    ticket.version += 1
    return Outcome(fresh, retracted, unchanged)


def _signatures(ticket: Ticket) -> dict[Metric, tuple[object, ...]]:
    """What a clock's stored snapshot holds (its row need not be written again if equal)."""
    return {
        m: (
            c.as_of_ms,
            c.elapsed_ms,
            c.paused,
            c.stopped_at_ms,
            c.breached_at_ms,
            c.priority,
            c.target_ms,
            c.fired,
            c.met_signalled,
            c.episode,
            c.breach_episode,
            c.policy,
        )
        for m, c in ticket.clocks.items()
    }


def _same(before: dict[Metric, tuple[object, ...]], ticket: Ticket) -> frozenset[Metric]:
    after = _signatures(ticket)
    return frozenset(m for m, sig in before.items() if after.get(m) == sig)


_clock_fields = attrgetter(*Clock.__slots__)
"""A clock's fields, in their order, as one tuple (one call in C, not a getattr each)."""


def _copy(clock: Clock) -> Clock:
    return Clock(*_clock_fields(clock))


StoredState = tuple[
    str, str | None, str, dict[str, str], tuple[tuple[str, tuple[object, ...]], ...]
]


def stored_state(ticket: Ticket) -> StoredState:
    """Everything a ticket's clock rows hold but the snapshot version and last event: every
    field of every clock, and the ticket's own (a replay compares against it)."""
    clocks = tuple((m, _clock_fields(c)) for m, c in ticket.clocks.items())
    return (ticket.service, ticket.customer, ticket.ticket_type, ticket.labels, clocks)


def unchanged_by_replay(before: StoredState, ticket: Ticket, outcome: Outcome) -> Outcome:
    """`outcome` of a replay of a ticket held before as `before` (its `stored_state`), with
    the clocks the replay left exactly as they were marked unchanged, so that their rows and
    facts are not written again (as the in-order path does): in a backfill a late event
    usually moves one of the two clocks. One row always carries the newer last event."""
    after = stored_state(ticket)
    if before[:4] != after[:4]:
        return outcome  # every row carries these
    now = dict(after[4])
    same = frozenset(m for m, state in before[4] if now.get(m) == state)
    if same and same == frozenset(ticket.clocks):
        same = same - {next(iter(ticket.clocks))}
    return Outcome(outcome.intents, outcome.retracted, same) if same else outcome  # type: ignore[arg-type]
