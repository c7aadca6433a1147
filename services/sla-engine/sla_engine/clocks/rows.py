"""Clock rows and facts: how the keeper's tickets are stored (`ClockRow`), restored from their
rows (`RowBuilder`) and told to reporting (`ClockFact`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

import orjson

from pacta.calendars import Calendar
from pacta.durations import ms_to_datetime
from sla_engine.domain.clocks import ApiState, Clock, Metric
from sla_engine.domain.rules import ClockRules
from sla_engine.domain.signals import iso_time as _iso
from sla_engine.domain.tickets import Ticket
from sla_engine.resources.registry import Registry

_NO_LABELS: dict[str, str] = {}
"""The labels of every restored ticket that has none: shared, so never written to (nothing
writes to a ticket's labels; a replay gives the ticket a dict of its own)."""


class RowBuilder:
    """Tickets and clocks from clock rows, sharing what repeats: one rules object per policy,
    one string per service / customer / policy / priority, the ticket's id, the empty sets."""

    def __init__(self, registry: Registry, share: Callable[[ClockRules], ClockRules]) -> None:
        self.registry, self.share = registry, share
        self.rules: dict[str, ClockRules | None] = {}
        self.strings: dict[str, str] = {}
        self.targets: dict[int, int] = {}

    def _rules(self, policy: str) -> ClockRules | None:
        if policy not in self.rules:
            rules = self.registry.rules_of(policy)
            self.rules[policy] = None if rules is None else self.share(rules)
        return self.rules[policy]

    def add(self, rows: list[Any], tickets: dict[str, Ticket]) -> None:
        """Rows in the column order of `store.stream_open_clocks`; a million of them take a
        few seconds, so clocks are built positionally (the field order is checked below)."""
        strings, targets = self.strings.setdefault, self.targets.setdefault
        no_fired: frozenset[float] = frozenset()
        for row in rows:
            (
                ticket_id,
                metric,
                service,
                customer,
                ticket_type,
                policy,
                priority,
                target_ms,
                warn_at,
                started_at_ms,
                as_of_ms,
                elapsed_ms,
                paused,
                stopped_at_ms,
                breached_at_ms,
                met_signalled,
                fired,
                last_event_ms,
                labels,
                version,
                episode,
                breach_episode,
                policy_version,
                calendar_version,
            ) = row
            rules = self.rules[policy] if policy in self.rules else self._rules(policy)
            if rules is None:
                continue
            ticket = tickets.get(ticket_id)
            if ticket is None:
                ticket = tickets[ticket_id] = Ticket(
                    ticket_id=ticket_id,
                    service=strings(service, service),
                    customer=None if customer is None else strings(customer, customer),
                    ticket_type=strings(ticket_type, ticket_type),
                    rules=rules,
                    labels=_NO_LABELS if labels is None or labels == "{}" else orjson.loads(labels),
                    last_event_ms=last_event_ms,
                    version=version,
                )
                if started_at_ms == last_event_ms:
                    started_at_ms = ticket.last_event_ms  # one int object where they are equal
            else:
                # a row not rewritten since (its clock did not change) may hold an older one
                ticket.last_event_ms = max(ticket.last_event_ms, last_event_ms)
                ticket.version = max(ticket.version, version)  # the newest snapshot's
                for other in ticket.clocks.values():
                    if started_at_ms == other.started_at_ms:
                        started_at_ms = other.started_at_ms
                    if as_of_ms == other.as_of_ms:
                        as_of_ms = other.as_of_ms
                    break
            if as_of_ms == started_at_ms:
                as_of_ms = started_at_ms
            warn_at = tuple(warn_at)
            metric = cast(Metric, strings(metric, metric))
            ticket.clocks[metric] = Clock(
                ticket.ticket_id,
                ticket.service if service == ticket.service else strings(service, service),
                metric,
                rules.policy if policy == rules.policy else policy,
                None if priority is None else strings(priority, priority),
                None if target_ms is None else targets(target_ms, target_ms),
                rules.calendar,
                rules.warn_at if warn_at == rules.warn_at else warn_at,
                started_at_ms,
                as_of_ms,
                elapsed_ms,
                paused,
                stopped_at_ms,
                breached_at_ms,
                met_signalled,
                frozenset(fired) if fired else no_fired,
                episode,
                breach_episode,
                policy_version,
                calendar_version,
            )


# `RowBuilder.add` passes a clock's fields by position, in this order
assert tuple(Clock.__dataclass_fields__) == (
    "ticket_id",
    "service",
    "metric",
    "policy",
    "priority",
    "target_ms",
    "calendar",
    "warn_at",
    "started_at_ms",
    "as_of_ms",
    "elapsed_ms",
    "paused",
    "stopped_at_ms",
    "breached_at_ms",
    "met_signalled",
    "fired",
    "episode",
    "breach_episode",
    "policy_version",
    "calendar_version",
), "Clock's fields changed order: update RowBuilder.add"


# Rows and facts are serialised by orjson (`save_clocks`, the outbox) and live no longer than
# a batch: no slots, since orjson writes a dataclass with a __dict__ four to five times
# faster than one with slots (the same JSON).


@dataclass
class ClockRow:
    """One clock's snapshot as `sla_engine.clocks` holds it (the fields in its column order;
    `labels` as JSON text, `deadline_at` the only instant as a datetime)."""

    ticket_id: str
    metric: Metric
    service: str
    customer: str | None
    ticket_type: str
    policy: str
    calendar: str
    priority: str | None
    target_ms: int | None
    warn_at: list[float]
    started_at_ms: int
    as_of_ms: int
    elapsed_ms: int
    paused: bool
    stopped_at_ms: int | None
    breached_at_ms: int | None
    met_signalled: bool
    fired: list[float]
    last_event_ms: int
    state: ApiState
    deadline_at: datetime | None
    labels: str
    version: int
    episode: int
    breach_episode: int
    policy_version: int
    calendar_version: int

    @classmethod
    def of_clock(cls, ticket: Ticket, metric: Metric, clock: Clock, labels: str) -> ClockRow:
        """The row of one of the ticket's clocks (`labels`: the ticket's, as JSON text)."""
        deadline = clock.deadline_ms()
        # by position, in the field order (a dataclass takes them a third faster than by name)
        return cls(
            ticket.ticket_id,
            metric,
            ticket.service,
            ticket.customer,
            ticket.ticket_type,
            clock.policy,
            clock.calendar.name,
            clock.priority,
            clock.target_ms,
            list(clock.warn_at),
            clock.started_at_ms,
            clock.as_of_ms,
            clock.elapsed_ms,
            clock.paused,
            clock.stopped_at_ms,
            clock.breached_at_ms,
            clock.met_signalled,
            sorted(clock.fired),
            ticket.last_event_ms,
            clock.api_state,
            None if deadline is None else ms_to_datetime(deadline),
            labels,
            ticket.version,
            clock.episode,
            clock.breach_episode,
            clock.policy_version,
            clock.calendar_version,
        )

    @classmethod
    def of_stored(cls, row: Mapping[Any, Any]) -> ClockRow:
        """A row as read back from the table (its jsonb labels as text or already decoded)."""
        fields = {name: row[name] for name in _COLUMNS}
        labels = fields["labels"]
        fields["labels"] = labels if isinstance(labels, str) else _json(labels)
        return cls(**fields)


_COLUMNS = tuple(ClockRow.__dataclass_fields__)


def clock_rows(ticket: Ticket, skip: Collection[str] = ()) -> list[ClockRow]:
    """The rows of the ticket's clocks, but those in `skip` (unchanged since written)."""
    labels = _json(ticket.labels)
    return [
        ClockRow.of_clock(ticket, metric, clock, labels)
        for metric, clock in ticket.clocks.items()
        if metric not in skip
    ]


def clock_from_row(row: ClockRow, calendar: Calendar) -> Clock:
    """One clock from its stored snapshot (a row of `sla_engine.clocks`), exact to `as_of_ms`."""
    return Clock(
        ticket_id=row.ticket_id,
        service=row.service,
        metric=row.metric,
        policy=row.policy,
        priority=row.priority,
        target_ms=row.target_ms,
        calendar=calendar,
        warn_at=tuple(row.warn_at),
        started_at_ms=row.started_at_ms,
        as_of_ms=row.as_of_ms,
        elapsed_ms=row.elapsed_ms,
        paused=row.paused,
        stopped_at_ms=row.stopped_at_ms,
        breached_at_ms=row.breached_at_ms,
        met_signalled=row.met_signalled,
        fired=frozenset(row.fired),
        episode=row.episode,
        breach_episode=row.breach_episode,
        policy_version=row.policy_version,
        calendar_version=row.calendar_version,
    )


@dataclass
class ClockFact:
    """What reporting needs to count a clock exactly as the engine does: the body of a clock
    fact on the facts topic (docs/reporting.md), its JSON object the fields in this order.
    Fields are only ever added. `outcome` is `met`, `stopped` (breached, then stopped: counts
    as breached), `breached` (still open) or None while open in time; `breached` is the
    count-as-breached truth as the engine now derives it (a retracted breach is no longer in
    it); `removed` is true for a clock no policy measures any more (its policy was deleted
    before it ended); the versions are those of `policy` and `calendar` it is measured by."""

    fact_id: str
    fact: Literal["clock"]
    ticket_id: str
    metric: Metric
    service: str
    customer: str | None
    ticket_type: str
    policy: str
    priority: str | None
    state: ApiState
    version: int
    elapsed_seconds: float
    target_seconds: float | None
    started_at: str
    stopped_at: str | None
    deadline: str | None
    occurred_at: str
    outcome: Literal["met", "stopped", "breached"] | None
    breached: bool
    breached_at: str | None
    episode: int
    breach_episode: int
    labels: dict[str, str]
    removed: bool
    calendar: str
    policy_version: int
    calendar_version: int


def clock_fact(
    row: ClockRow, *, removed: bool = False, labels: dict[str, str] | None = None
) -> ClockFact:
    """The fact of a clock row (`labels`: the row's, already decoded)."""
    deadline = row.deadline_at
    breached_at = row.breached_at_ms
    stopped_at = row.stopped_at_ms
    target = row.target_ms
    outcome: Literal["met", "stopped", "breached"] | None = None
    if breached_at is not None:
        outcome = "breached" if stopped_at is None else "stopped"
    elif stopped_at is not None and target is not None:
        outcome = "met"
    started = _iso(row.started_at_ms)
    stopped = None if stopped_at is None else _iso(stopped_at)
    # `stopped_at or as_of_ms`, as the field always had it
    if stopped is not None and stopped_at:
        occurred = stopped
    else:
        occurred = started if row.as_of_ms == row.started_at_ms else _iso(row.as_of_ms)
    # by position, in the field order (as `ClockRow.of_clock`); an instant already written
    # is not written again
    return ClockFact(
        f"clock:{row.ticket_id}:{row.metric}:{row.version}",
        "clock",
        row.ticket_id,
        row.metric,
        row.service,
        row.customer,
        row.ticket_type,
        row.policy,
        row.priority,
        row.state,
        row.version,
        row.elapsed_ms / 1000,
        None if target is None else target / 1000,
        started,
        stopped,
        None if deadline is None else deadline.isoformat(),
        occurred,
        outcome,
        breached_at is not None,
        None if breached_at is None else _iso(breached_at),
        row.episode,
        row.breach_episode,
        orjson.loads(row.labels) if labels is None else labels,
        removed,
        row.calendar,
        row.policy_version,
        row.calendar_version,
    )


def ticket_facts_and_rows(
    ticket: Ticket, skip: Collection[str] = ()
) -> tuple[list[ClockFact], list[ClockRow]]:
    """The rows of the ticket's clocks but those in `skip` and their facts: the event path's
    one pass per ticket (the labels' JSON written once and never parsed back)."""
    rows = clock_rows(ticket, skip)
    return [clock_fact(row, labels=ticket.labels) for row in rows], rows


def _json(value: Any) -> str:
    return "{}" if not value else orjson.dumps(value).decode()
