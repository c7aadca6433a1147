"""Ticket SLA clocks (SPEC §4.2): an event-time state machine, and replay of a ticket's event log.

Pure: instants are integer epoch milliseconds handed in by the caller; nothing reads the clock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal, NamedTuple

from pacta.calendars import Calendar, add_working_ms, working_ms
from pacta.events import TicketAction

Metric = Literal["response", "resolution"]
SignalKind = Literal["warning", "breach", "met"]
ApiState = Literal["running", "paused", "met", "breached"]
SignalKey = tuple[str, str, str, float]
"""Stable identity of a clock signal: (ticket_id, metric, kind, threshold)."""

METRICS: tuple[Metric, ...] = ("response", "resolution")
BREACH = 1.0  # the threshold fraction carried by breach and met signals


class OutOfOrderError(ValueError):
    """An operation older than what the clock has already accounted; replay the log instead."""


@dataclass(frozen=True, slots=True)
class SignalIntent:
    """A signal the clock wants emitted; the shell adds ids, detected_at, customer and labels."""

    kind: SignalKind
    ticket_id: str
    service: str
    policy: str
    metric: Metric
    priority: str | None
    threshold: float
    occurred_at_ms: int
    deadline_ms: int | None

    @property
    def key(self) -> SignalKey:
        return (self.ticket_id, self.metric, self.kind, self.threshold)


def check_warn_at(warn_at: Iterable[float]) -> tuple[float, ...]:
    """Sorted, unique warn fractions; each must lie strictly between 0 and 1."""
    fractions = tuple(sorted(set(warn_at)))
    for fraction in fractions:
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"warn_at: {fraction} must be a fraction strictly between 0 and 1")
    return fractions


@dataclass(slots=True)
class Clock:
    """One response or resolution clock of a ticket; elapsed working time is exact to `as_of_ms`.

    Invariant after every operation: each threshold the elapsed time has reached has fired.
    """

    ticket_id: str
    service: str
    metric: Metric
    policy: str
    priority: str | None
    target_ms: int | None  # None: the policy sets no target for this priority; counts silently
    calendar: Calendar
    warn_at: tuple[float, ...]
    started_at_ms: int
    as_of_ms: int
    elapsed_ms: int = 0
    paused: bool = False  # paused by the ticket's status (not by the calendar)
    stopped_at_ms: int | None = None
    breached_at_ms: int | None = None
    met_signalled: bool = False
    fired: frozenset[float] = frozenset()  # warn fractions already signalled, ever

    @classmethod
    def start(
        cls,
        *,
        ticket_id: str,
        service: str,
        metric: Metric,
        policy: str,
        priority: str | None,
        target_ms: int | None,
        calendar: Calendar,
        warn_at: Iterable[float] = (),
        at_ms: int,
        paused: bool = False,
    ) -> Clock:
        """A clock started at `at_ms` with nothing elapsed; starting never fires a signal."""
        if target_ms is not None and target_ms <= 0:
            raise ValueError(f"target_ms must be positive, got {target_ms}")
        return cls(
            ticket_id=ticket_id,
            service=service,
            metric=metric,
            policy=policy,
            priority=priority,
            target_ms=target_ms,
            calendar=calendar,
            warn_at=check_warn_at(warn_at),
            started_at_ms=at_ms,
            as_of_ms=at_ms,
            paused=paused,
        )

    def copy(self) -> Clock:
        """An independent copy (a snapshot to roll back to)."""
        return replace(self)

    @property
    def stopped(self) -> bool:
        return self.stopped_at_ms is not None

    @property
    def breached(self) -> bool:
        return self.breached_at_ms is not None

    @property
    def counting(self) -> bool:
        """Whether working time accrues (outside working hours it accrues nothing)."""
        return not self.stopped and not self.paused

    @property
    def api_state(self) -> ApiState:
        # a breach is permanent, even if the clock later stops or its target is raised
        if self.breached:
            return "breached"
        if self.stopped:
            return "met"
        # only a status pause shows as paused; outside working hours the clock is still running
        return "paused" if self.paused else "running"

    def _pending(self) -> list[tuple[float, int]]:
        """Thresholds not yet fired as (fraction, elapsed ms), in the order they are reached."""
        target = self.target_ms
        if target is None:
            return []
        pending = [(f, max(1, round(f * target))) for f in self.warn_at if f not in self.fired]
        if not self.breached:
            pending.append((BREACH, target))
        return sorted(pending, key=lambda item: (item[1], item[0]))

    def _signal(
        self, kind: SignalKind, fraction: float, at_ms: int, deadline: int | None
    ) -> SignalIntent:
        if kind == "breach":
            self.breached_at_ms = at_ms
        elif kind == "warning":
            self.fired = self.fired | {fraction}
        about = (self.ticket_id, self.service, self.policy, self.metric, self.priority)
        return SignalIntent(kind, *about, fraction, at_ms, deadline)

    def _projected_deadline(self, from_ms: int) -> int | None:
        if self.target_ms is None or self.elapsed_ms >= self.target_ms:
            return None
        return add_working_ms(self.calendar, from_ms, self.target_ms - self.elapsed_ms)

    def advance(self, now_ms: int) -> list[SignalIntent]:
        """Account time up to `now_ms`; fire each threshold reached by then at its exact instant."""
        if now_ms <= self.as_of_ms:
            return []
        intents: list[SignalIntent] = []
        if self.counting:
            pending = self._pending()
            deadline = self._projected_deadline(self.as_of_ms) if pending else None
            cursor, counted = self.as_of_ms, self.elapsed_ms
            for fraction, threshold in pending:
                # the wall instant at which the elapsed working time reaches this threshold
                at = add_working_ms(self.calendar, cursor, threshold - counted)
                if at > now_ms:
                    break
                kind: SignalKind = "breach" if fraction == BREACH else "warning"
                intents.append(self._signal(kind, fraction, at, deadline))
                cursor, counted = at, threshold
            self.elapsed_ms += working_ms(self.calendar, self.as_of_ms, now_ms)
        self.as_of_ms = now_ms
        return intents

    def _catch_up(self, at_ms: int) -> list[SignalIntent]:
        if at_ms < self.as_of_ms:
            raise OutOfOrderError(
                f"clock {self.ticket_id}/{self.metric} is accounted to {self.as_of_ms}; "
                f"an operation at {at_ms} needs a replay"
            )
        return self.advance(at_ms)

    def _fire_passed(self, at_ms: int) -> list[SignalIntent]:
        """Fire at once every threshold the elapsed time already passes (after a target change)."""
        passed = [item for item in self._pending() if item[1] <= self.elapsed_ms]
        if not passed:
            return []
        deadline = self._projected_deadline(at_ms)
        if passed[-1][0] == BREACH:
            deadline = at_ms  # the breach happens at the instant of the change
        return [
            self._signal("breach" if f == BREACH else "warning", f, at_ms, deadline)
            for f, _ in passed
        ]

    def set_status(self, paused: bool, at_ms: int) -> list[SignalIntent]:
        """The ticket's status moved into (or out of) a pause status at `at_ms`."""
        intents = self._catch_up(at_ms)
        self.paused = paused  # kept while stopped too, so a reopened ticket resumes paused
        return intents

    def change_priority(
        self, priority: str | None, target_ms: int | None, at_ms: int
    ) -> list[SignalIntent]:
        """Switch to the new priority's target, keeping the elapsed time."""
        if target_ms is not None and target_ms <= 0:
            raise ValueError(f"target_ms must be positive, got {target_ms}")
        intents = self._catch_up(at_ms)
        self.priority, self.target_ms = priority, target_ms
        # a settled (stopped) clock is not re-judged; a reopen applies the new target then
        if not self.stopped:
            # thresholds already passed under the new target fire now, even while paused:
            # that time was counted while the clock ran
            intents += self._fire_passed(at_ms)
        return intents

    def stop(self, at_ms: int) -> list[SignalIntent]:
        """The clock's stop condition happened at `at_ms`: met if still before the deadline."""
        intents = self._catch_up(at_ms)
        if self.stopped:
            return intents
        self.stopped_at_ms = at_ms
        # no breach has fired, so by the invariant elapsed < target: stopped in time
        if self.target_ms is not None and not self.breached and not self.met_signalled:
            self.met_signalled = True
            deadline = add_working_ms(self.calendar, at_ms, self.target_ms - self.elapsed_ms)
            intents.append(self._signal("met", BREACH, at_ms, deadline))
        return intents

    def reopen(self, at_ms: int) -> list[SignalIntent]:
        """Resume a stopped clock with its elapsed time; a met signal given stands, and a later
        breach fires normally (the stopped time never counts)."""
        intents = self._catch_up(at_ms)
        if self.stopped:
            self.stopped_at_ms = None
            intents += self._fire_passed(at_ms)  # a target lowered while stopped applies now
        return intents

    def elapsed_at(self, now_ms: int) -> int:
        """Working time counted up to `now_ms` (no signals fire, nothing changes)."""
        if self.counting and now_ms > self.as_of_ms:
            return self.elapsed_ms + working_ms(self.calendar, self.as_of_ms, now_ms)
        return self.elapsed_ms

    def deadline_ms(self) -> int | None:
        """Wall time it breaches (if it keeps running) or breached, or as it stood when the clock
        was met; None while paused or without a target."""
        if self.breached_at_ms is not None:
            return self.breached_at_ms
        if self.stopped_at_ms is not None:
            return self._projected_deadline(self.stopped_at_ms)
        return None if self.paused else self._projected_deadline(self.as_of_ms)

    def remaining_ms(self, now_ms: int) -> int | None:
        """Target minus working time counted by `now_ms` (negative when overdue)."""
        return None if self.target_ms is None else self.target_ms - self.elapsed_at(now_ms)

    def next_due_ms(self) -> int | None:
        """Wall instant of the next warning or breach if the clock keeps running, for timers."""
        pending = self._pending() if self.counting else []
        if not pending:
            return None
        return add_working_ms(self.calendar, self.as_of_ms, pending[0][1] - self.elapsed_ms)


# ---- a ticket's event log -> its clocks ---------------------------------------------------


class TicketEvent(NamedTuple):
    """One ticket event in event time: action, and the status / priority it carries."""

    at_ms: int
    action: TicketAction
    status: str | None = None
    priority: str | None = None


@dataclass(frozen=True, slots=True)
class ClockRules:
    """What a policy says about a ticket's clocks; `targets` is priority -> metric -> ms."""

    policy: str
    calendar: Calendar
    targets: Mapping[str, Mapping[str, int]]
    pause_statuses: frozenset[str] = frozenset()
    warn_at: tuple[float, ...] = ()

    def target_ms(self, priority: str | None, metric: Metric) -> int | None:
        by_metric = self.targets.get(priority) if priority is not None else None
        return None if by_metric is None else by_metric.get(metric)


_STOPS: Mapping[Metric, frozenset[str]] = {
    # response stops at the first reply, or at the end of the ticket if nobody replied
    "response": frozenset({"responded", "resolved", "closed"}),
    "resolution": frozenset({"resolved", "closed"}),
}
# same-instant events are applied in lifecycle order, so replays never depend on arrival order
_LIFECYCLE = ("created", "updated", "responded", "resolved", "closed", "reopened")


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
        for metric in METRICS:
            clocks[metric] = Clock.start(
                ticket_id=ticket_id,
                service=service,
                metric=metric,
                policy=rules.policy,
                priority=event.priority,
                target_ms=rules.target_ms(event.priority, metric),
                calendar=rules.calendar,
                warn_at=rules.warn_at,
                at_ms=event.at_ms,
                paused=bool(paused),
            )
    intents: list[SignalIntent] = []
    for clock in clocks.values():
        if event.action == "reopened" and clock.metric == "resolution":
            intents += clock.reopen(event.at_ms)
        if event.priority is not None and event.priority != clock.priority:
            target = rules.target_ms(event.priority, clock.metric)
            intents += clock.change_priority(event.priority, target, event.at_ms)
        if paused is not None:
            intents += clock.set_status(paused, event.at_ms)
        if event.action in _STOPS[clock.metric]:
            intents += clock.stop(event.at_ms)
    return intents


def replay(
    events: Iterable[TicketEvent],
    *,
    ticket_id: str,
    service: str,
    rules: ClockRules,
    now_ms: int,
) -> tuple[dict[Metric, Clock], list[SignalIntent]]:
    """Recompute a ticket's clocks and every signal due by `now_ms` from its whole event log:
    the robust answer to late and out-of-order events (compare with `diff_signals`)."""
    ordered = sorted(events, key=lambda e: (e.at_ms, _LIFECYCLE.index(e.action)))
    clocks: dict[Metric, Clock] = {}
    intents: list[SignalIntent] = []
    for event in ordered:
        intents += apply_event(clocks, event, ticket_id=ticket_id, service=service, rules=rules)
    for clock in clocks.values():
        intents += clock.advance(now_ms)
    intents.sort(key=lambda intent: intent.occurred_at_ms)  # stable: per-clock order kept
    return clocks, intents


def diff_signals(
    old_keys: Collection[SignalKey], new_intents: Iterable[SignalIntent]
) -> tuple[list[SignalIntent], list[SignalKey]]:
    """(signals to emit, keys to retract) when a replay's intents replace the standing signals.

    `old_keys` are the keys emitted for the ticket and not yet retracted. A vanished breach is
    what SPEC §4.2 calls a retraction; a vanished warning or met is reported the same way.
    """
    fresh: dict[SignalKey, SignalIntent] = {}
    for intent in new_intents:
        fresh.setdefault(intent.key, intent)
    old = set(old_keys)
    to_emit = [intent for key, intent in fresh.items() if key not in old]
    to_retract = sorted(key for key in old if key not in fresh)
    return to_emit, to_retract
