"""A ticket's event log -> its clocks (docs/design.md, "SLA clocks"): in-order application, the replay of the whole
log in event time, policy changes taking effect at their instant, and the diff against what was
signalled. Pure: instants are epoch milliseconds handed in by the caller."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import NamedTuple

from pacta.events import TicketAction
from sla_engine.domain.clocks import METRICS, Clock, Metric, SignalIntent, SignalKey, Stamp
from sla_engine.domain.rules import ClockRules


class TicketEvent(NamedTuple):
    """One ticket event in event time: action, and the status / priority it carries."""

    at_ms: int
    action: TicketAction
    status: str | None = None
    priority: str | None = None


class RulesChange(NamedTuple):
    """From `at_ms` on the ticket is measured by `rules` (None: no policy covers it any more)."""

    at_ms: int
    rules: ClockRules | None


_STOPS: Mapping[Metric, frozenset[str]] = {
    # response stops at the first reply, or at the end of the ticket if nobody replied
    "response": frozenset({"responded", "resolved", "closed"}),
    "resolution": frozenset({"resolved", "closed"}),
}
# same-instant events are applied in lifecycle order, so replays never depend on arrival order
_LIFECYCLE = ("created", "updated", "responded", "resolved", "closed", "reopened")
EventOrder = tuple[int, int, str, str]


def event_order(event: TicketEvent) -> EventOrder:
    """Where an event stands among a ticket's events: by instant; at one instant in lifecycle
    order, and two of one action by what they say (status, then priority), so the order never
    depends on which arrived first."""
    return (event.at_ms, _LIFECYCLE.index(event.action), event.status or "", event.priority or "")


def _start(
    clocks: dict[Metric, Clock],
    *,
    ticket_id: str,
    service: str,
    rules: ClockRules,
    priority: str | None,
    paused: bool,
    at_ms: int,
) -> None:
    for metric in METRICS:
        clocks[metric] = Clock.start(
            ticket_id=ticket_id,
            service=service,
            metric=metric,
            policy=rules.policy,
            priority=priority,
            target_ms=rules.target_ms(priority, metric),
            calendar=rules.calendar,
            warn_at=rules.warn_at,
            at_ms=at_ms,
            paused=paused,
            policy_version=rules.policy_version,
            calendar_version=rules.calendar_version,
        )


def _switch(clock: Clock, rules: ClockRules, at_ms: int) -> list[SignalIntent]:
    return clock.switch_rules(
        policy=rules.policy,
        calendar=rules.calendar,
        target_ms=rules.target_ms(clock.priority, clock.metric),
        warn_at=rules.warn_at,
        at_ms=at_ms,
        policy_version=rules.policy_version,
        calendar_version=rules.calendar_version,
    )


def _measured_by(clock: Clock) -> tuple[str, int, int]:
    return clock.policy, clock.policy_version, clock.calendar_version


def apply_event(
    clocks: dict[Metric, Clock],
    event: TicketEvent,
    *,
    ticket_id: str,
    service: str,
    rules: ClockRules,
) -> list[SignalIntent]:
    """Apply one in-order event to a ticket's clocks, starting them if there are none yet
    (OutOfOrderError if the event is older than what the clocks have accounted)."""
    paused = None if event.status is None else event.status in rules.pause_statuses
    if not clocks:
        # a ticket first seen already resolved or closed has nothing left to measure
        if event.action in ("resolved", "closed"):
            return []
        _start(
            clocks,
            ticket_id=ticket_id,
            service=service,
            rules=rules,
            priority=event.priority,
            paused=bool(paused),
            at_ms=event.at_ms,
        )
    intents: list[SignalIntent] = []
    for clock in clocks.values():
        if event.action == "reopened" and clock.metric == "resolution":
            intents += clock.reopen(event.at_ms)
            if _measured_by(clock) != rules.versions:
                # a change while it was stopped: what it measures from now on is by the new one
                intents += _switch(clock, rules, event.at_ms)
        if event.priority is not None and event.priority != clock.priority:
            target = rules.target_ms(event.priority, clock.metric)
            intents += clock.change_priority(event.priority, target, event.at_ms)
        if paused is not None:
            intents += clock.set_status(paused, event.at_ms)
        if event.action in _STOPS[clock.metric]:
            intents += clock.stop(event.at_ms)
    return intents


class _State:
    """What the ticket's events said so far, for clocks that start or switch mid-life."""

    def __init__(self) -> None:
        self.status: str | None = None
        self.priority: str | None = None
        self.seen = False
        self.settled = False  # resolved or closed, and not reopened since
        self.responded = False

    def note(self, event: TicketEvent) -> None:
        self.seen = True
        self.status = event.status if event.status is not None else self.status
        self.priority = event.priority if event.priority is not None else self.priority
        if event.action in ("resolved", "closed"):
            self.settled = True
        elif event.action == "reopened":
            self.settled = False
        self.responded = self.responded or event.action in _STOPS["response"]


def apply_change(
    clocks: dict[Metric, Clock],
    change: RulesChange,
    state: _State,
    *,
    ticket_id: str,
    service: str,
) -> list[SignalIntent]:
    """A policy change at its instant: an uncovered open ticket gets clocks from then on (not
    back-dated), running clocks switch rules keeping their elapsed time, and a ticket no policy
    covers any more has its running clocks stopped there (a breached one tells `stopped`).
    A clock that ended before keeps the rules it ended under (a change never rewrites it)."""
    rules, at = change.rules, change.at_ms
    intents: list[SignalIntent] = []
    if rules is None:
        for metric, clock in list(clocks.items()):
            if clock.stopped:
                continue
            intents += [i for i in clock.stop(at) if i.kind != "met"]
            if not clock.breached:
                del clocks[metric]  # never measured to an end: not a met, simply not measured
        return intents
    if not clocks:
        if state.seen and not state.settled:
            paused = state.status in rules.pause_statuses
            _start(
                clocks,
                ticket_id=ticket_id,
                service=service,
                rules=rules,
                priority=state.priority,
                paused=paused,
                at_ms=at,
            )
            if state.responded:
                clocks["response"].stopped_at_ms = at  # answered before it was measured
        return intents
    for clock in clocks.values():
        if clock.stopped:
            continue  # switches if a reopen resumes it (see `apply_event`)
        intents += _switch(clock, rules, at)
        if state.status is not None:
            intents += clock.set_status(state.status in rules.pause_statuses, at)
    return intents


def replay(
    events: Iterable[TicketEvent],
    *,
    ticket_id: str,
    service: str,
    rules: ClockRules | None,
    now_ms: int,
    changes: Sequence[RulesChange] = (),
) -> tuple[dict[Metric, Clock], list[SignalIntent]]:
    """Recompute a ticket's clocks and every signal due by `now_ms` from its whole event log
    (`rules` apply until the first of `changes`): the robust answer to late and out-of-order
    events (compare with `diff_signals`). Clocks are accounted only up to the last instant
    something fell due, so a later event that is older than `now_ms` still applies in order."""
    ordered: list[tuple[EventOrder, TicketEvent | RulesChange]] = [
        (event_order(e), e) for e in events
    ]
    # a change at the same instant as an event takes effect after it
    ordered += [((c.at_ms, len(_LIFECYCLE), "", ""), c) for c in changes]
    ordered.sort(key=lambda item: item[0])
    clocks: dict[Metric, Clock] = {}
    intents: list[SignalIntent] = []
    state = _State()
    current = rules
    for _order, item in ordered:
        if isinstance(item, RulesChange):
            current = item.rules
            intents += apply_change(clocks, item, state, ticket_id=ticket_id, service=service)
            continue
        state.note(item)
        if current is None:
            continue  # measured by no policy (yet, or any more)
        intents += apply_event(clocks, item, ticket_id=ticket_id, service=service, rules=current)
    for clock in clocks.values():
        intents += clock.advance_due(now_ms)
    intents.sort(key=lambda intent: intent.occurred_at_ms)  # stable: per-clock order kept
    return clocks, intents


def diff_signals(
    standing: Mapping[SignalKey, Stamp],
    new_intents: Iterable[SignalIntent],
    ahead: Collection[SignalKey] = (),
) -> tuple[list[SignalIntent], list[SignalKey]]:
    """(signals to emit, keys to retract) when a replay's intents replace the standing signals.

    `standing` holds what was emitted for the ticket and not yet retracted, by key. Whatever the
    replay no longer produces (a breach, a met, a warning, a stopped) was not true and is
    retracted; one it produces with another instant or content (a late priority change, pause
    or version moved it) is retracted as it fired and emitted again as it now stands, so the
    signals always say what the clocks say, whatever order the events came in.

    `ahead`: standing signals after the instant the replay judged up to (a backfill's
    watermark) that the clocks will still give as they stand: they stay, and are not retracted
    only to be fired again when the clock gets there.
    """
    fresh: dict[SignalKey, SignalIntent] = {}
    for intent in new_intents:
        fresh.setdefault(intent.key, intent)
    to_emit = [intent for key, intent in fresh.items() if standing.get(key) != intent.stamp]
    to_retract = sorted(
        key
        for key, stamp in standing.items()
        if (fresh[key].stamp != stamp if key in fresh else key not in ahead)
    )
    return to_emit, to_retract
