"""Ticket SLA clocks (docs/design.md, "SLA clocks"): one response or resolution clock as an event-time state machine.

Pure: instants are integer epoch milliseconds handed in by the caller; nothing reads the clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from pacta.calendars import Calendar, add_working_ms, working_ms

Metric = Literal["response", "resolution"]
SignalKind = Literal["warning", "breach", "met", "stopped"]
ApiState = Literal["running", "paused", "met", "breached"]
SignalKey = tuple[str, str, str, float, int]
"""Identity of one occurrence of a clock condition in a ticket's derivation: (ticket_id, metric,
kind, threshold, episode). An episode is one stretch of the clock between its start (or a reopen)
and its stop, so a second breach after a reopen is another occurrence."""
Stamp = tuple[int, int | None, str | None, str, int, int, int | None, int]
"""What an occurrence says besides its key: (occurred_at, deadline, priority, policy, policy
version, calendar version, target, elapsed), all in ms. A standing signal whose stamp a replay
no longer gives was moved or changed by a late event: it is retracted and fired as it stands."""

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
    episode: int = 1
    elapsed_ms: int = 0  # working time counted at `occurred_at_ms` (not at detection)
    target_ms: int | None = None  # the target in force at `occurred_at_ms`
    policy_version: int = 0  # the versions the condition was computed under (docs/design.md, "SLA clocks": policy and calendar versions)
    calendar_version: int = 0

    @property
    def key(self) -> SignalKey:
        return (self.ticket_id, self.metric, self.kind, self.threshold, self.episode)

    @property
    def stamp(self) -> Stamp:
        return (
            self.occurred_at_ms,
            self.deadline_ms,
            self.priority,
            self.policy,
            self.policy_version,
            self.calendar_version,
            self.target_ms,
            self.elapsed_ms,
        )


def _thresholds(marks: Iterable[float]) -> tuple[float, ...]:
    found = tuple(sorted(set(marks)))
    for mark in found:
        if not (mark < 0.0 or 0.0 < mark < 1.0):
            raise ValueError(f"warn_at: {mark} must be a fraction strictly between 0 and 1")
    return found


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
    warn_at: tuple[float, ...]  # fractions of the target; -s: `warn_before` s seconds
    started_at_ms: int
    as_of_ms: int
    elapsed_ms: int = 0
    paused: bool = False  # paused by the ticket's status (not by the calendar)
    stopped_at_ms: int | None = None
    breached_at_ms: int | None = None  # the instant of the latest breach (a breach is forever)
    met_signalled: bool = False
    fired: frozenset[float] = frozenset()  # warn fractions already signalled, ever
    episode: int = 1  # 1 + the reopens that resumed this clock after a stop
    breach_episode: int = 0  # the episode in which the latest breach fired; 0: never
    policy_version: int = 0  # the versions of the policy and calendar measuring it now
    calendar_version: int = 0

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
        policy_version: int = 0,
        calendar_version: int = 0,
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
            warn_at=_thresholds(warn_at),
            started_at_ms=at_ms,
            as_of_ms=at_ms,
            paused=paused,
            policy_version=policy_version,
            calendar_version=calendar_version,
        )

    def copy(self) -> Clock:
        """An independent copy (a snapshot to roll back to)."""
        return replace(self)

    @property
    def stopped(self) -> bool:
        return self.stopped_at_ms is not None

    @property
    def breached(self) -> bool:
        """Whether it ever breached (a breach stays on the record after a stop or a reopen)."""
        return self.breached_at_ms is not None

    @property
    def episode_breached(self) -> bool:
        """Whether the current episode has breached (only then may a breach not fire again)."""
        return self.breach_episode == self.episode

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
        pending = []
        for mark in self.warn_at:
            if mark in self.fired:
                continue
            if mark > 0:
                pending.append((mark, max(1, round(mark * target))))
            elif (at := target + round(mark * 1000)) > 0:
                # `warn_before`: that much working time before the deadline (none if it is
                # longer than the whole target: there is no such instant)
                pending.append((mark, at))
        if not self.episode_breached:
            pending.append((BREACH, target))
        return sorted(pending, key=lambda item: (item[1], item[0]))

    def _signal(
        self, kind: SignalKind, fraction: float, at_ms: int, deadline: int | None, elapsed: int
    ) -> SignalIntent:
        if kind == "breach":
            self.breached_at_ms, self.breach_episode = at_ms, self.episode
        elif kind == "warning":
            self.fired = self.fired | {fraction}
        about = (self.ticket_id, self.service, self.policy, self.metric, self.priority)
        return SignalIntent(
            kind,
            *about,
            fraction,
            at_ms,
            deadline,
            self.episode,
            elapsed,
            self.target_ms,
            self.policy_version,
            self.calendar_version,
        )

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
                # the elapsed time at its own instant is exactly the threshold reached
                intents.append(self._signal(kind, fraction, at, deadline, threshold))
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
            self._signal(
                "breach" if f == BREACH else "warning", f, at_ms, deadline, self.elapsed_ms
            )
            for f, _ in passed
        ]

    def set_status(self, paused: bool, at_ms: int) -> list[SignalIntent]:
        """The ticket's status moved into (or out of) a pause status at `at_ms`."""
        if paused == self.paused:
            # nothing changes for this clock: it need not be accounted to `at_ms` (what falls
            # due meanwhile fires at its own instant all the same), only be in order
            if at_ms < self.as_of_ms:
                raise OutOfOrderError(
                    f"clock {self.ticket_id}/{self.metric} is accounted to {self.as_of_ms}; "
                    f"an operation at {at_ms} needs a replay"
                )
            return []
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
        """The clock's stop condition happened at `at_ms`: met if still before the deadline,
        `stopped` if this episode breached (the all-clear for the breach alert)."""
        intents = self._catch_up(at_ms)
        if self.stopped:
            return intents
        self.stopped_at_ms = at_ms
        if self.target_ms is None:
            return intents  # measured silently: nothing was promised, nothing to tell
        if self.episode_breached:
            deadline = self.breached_at_ms
            intents.append(self._signal("stopped", BREACH, at_ms, deadline, self.elapsed_ms))
        elif not self.breached and not self.met_signalled:
            # no breach has fired, so by the invariant elapsed < target: stopped in time
            self.met_signalled = True
            deadline = add_working_ms(self.calendar, at_ms, self.target_ms - self.elapsed_ms)
            intents.append(self._signal("met", BREACH, at_ms, deadline, self.elapsed_ms))
        return intents

    def reopen(self, at_ms: int) -> list[SignalIntent]:
        """Resume a stopped clock with its elapsed time, in a new episode: a met signal given
        stands, a later breach fires normally, and a clock already past its target breaches
        again at once (its `stopped` resolved the first breach alert; it is overdue again)."""
        intents = self._catch_up(at_ms)
        if self.stopped:
            self.stopped_at_ms = None
            self.episode += 1
            intents += self._fire_passed(at_ms)  # also a target lowered while stopped
        return intents

    def elapsed_at(self, now_ms: int) -> int:
        """Working time counted up to `now_ms`, at or after `as_of_ms` (no signals fire,
        nothing changes); an earlier instant is not known to the clock any more, which is why
        each signal carries its own elapsed time."""
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
        if pending[0][1] <= self.elapsed_ms:
            return self.as_of_ms  # already passed (see `advance_due`): due at once
        return add_working_ms(self.calendar, self.as_of_ms, pending[0][1] - self.elapsed_ms)

    def advance_due(self, now_ms: int) -> list[SignalIntent]:
        """Fire what falls due by `now_ms`, accounting time only up to the last such instant:
        an event later than that but older than `now_ms` still applies in order."""
        intents: list[SignalIntent] = []
        while (due := self.next_due_ms()) is not None and due <= now_ms:
            if due <= self.as_of_ms:
                # a threshold the elapsed time already passes unfired (a snapshot written
                # under other rules): it fires now, and the loop cannot stall on it
                passed = self._fire_passed(self.as_of_ms)
                if not passed:
                    break
                intents += passed
                continue
            intents += self.advance(due)
        return intents

    def switch_rules(
        self,
        *,
        policy: str,
        calendar: Calendar,
        target_ms: int | None,
        warn_at: tuple[float, ...],
        at_ms: int,
        policy_version: int = 0,
        calendar_version: int = 0,
    ) -> list[SignalIntent]:
        """A policy change takes effect at `at_ms`: time counted so far stays, what comes after
        counts on the new calendar against the new target (like a priority change)."""
        intents = self._catch_up(at_ms)
        self.policy, self.calendar, self.warn_at = policy, calendar, warn_at
        self.target_ms = target_ms
        self.policy_version, self.calendar_version = policy_version, calendar_version
        if not self.stopped:
            intents += self._fire_passed(at_ms)
        return intents
