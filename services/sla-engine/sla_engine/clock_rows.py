"""Clock rows and facts: how the keeper's tickets are stored, restored and told to reporting,
and how journal events become clock events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import orjson

from pacta.calendars import Calendar
from pacta.durations import datetime_to_ms, ms_to_datetime, parse_timestamp_ms
from pacta.events import TicketEvent
from sla_engine.clocks import Clock, ClockRules, Metric
from sla_engine.clocks import TicketEvent as ClockEvent
from sla_engine.resources import Registry
from sla_engine.tickets import Ticket

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
), "Clock's fields changed order: update RowBuilder.add"


def clock_rows(ticket: Ticket) -> list[dict[str, Any]]:
    rows = []
    for metric, clock in ticket.clocks.items():
        deadline = clock.deadline_ms()
        rows.append(
            {
                "ticket_id": ticket.ticket_id,
                "metric": metric,
                "service": ticket.service,
                "customer": ticket.customer,
                "ticket_type": ticket.ticket_type,
                "policy": clock.policy,
                "calendar": clock.calendar.name,
                "priority": clock.priority,
                "target_ms": clock.target_ms,
                "warn_at": list(clock.warn_at),
                "started_at_ms": clock.started_at_ms,
                "as_of_ms": clock.as_of_ms,
                "elapsed_ms": clock.elapsed_ms,
                "paused": clock.paused,
                "stopped_at_ms": clock.stopped_at_ms,
                "breached_at_ms": clock.breached_at_ms,
                "met_signalled": clock.met_signalled,
                "fired": sorted(clock.fired),
                "last_event_ms": ticket.last_event_ms,
                "state": clock.api_state,
                "deadline_at": None if deadline is None else ms_to_datetime(deadline),
                "labels": _json(ticket.labels),
                "version": ticket.version,
            }
        )
    return rows


def clock_from_row(row: dict[str, Any], calendar: Calendar) -> Clock:
    """One clock from its stored snapshot (a row of `sla_engine.clocks`), exact to `as_of_ms`."""
    return Clock(
        ticket_id=row["ticket_id"],
        service=row["service"],
        metric=row["metric"],
        policy=row["policy"],
        priority=row["priority"],
        target_ms=row["target_ms"],
        calendar=calendar,
        warn_at=tuple(row["warn_at"]),
        started_at_ms=row["started_at_ms"],
        as_of_ms=row["as_of_ms"],
        elapsed_ms=row["elapsed_ms"],
        paused=row["paused"],
        stopped_at_ms=row["stopped_at_ms"],
        breached_at_ms=row["breached_at_ms"],
        met_signalled=row["met_signalled"],
        fired=frozenset(row["fired"]),
    )


def clock_fact(row: dict[str, Any]) -> dict[str, Any]:
    """What reporting needs to count a clock exactly as the engine does."""
    deadline = row["deadline_at"]
    return {
        "fact_id": f"clock:{row['ticket_id']}:{row['metric']}:{row['version']}",
        "fact": "clock",
        "ticket_id": row["ticket_id"],
        "metric": row["metric"],
        "service": row["service"],
        "customer": row["customer"],
        "ticket_type": row["ticket_type"],
        "policy": row["policy"],
        "priority": row["priority"],
        "state": row["state"],
        "version": row["version"],
        "elapsed_seconds": row["elapsed_ms"] / 1000,
        "target_seconds": None if row["target_ms"] is None else row["target_ms"] / 1000,
        "started_at": ms_to_datetime(row["started_at_ms"]).isoformat(),
        "stopped_at": None
        if row["stopped_at_ms"] is None
        else ms_to_datetime(row["stopped_at_ms"]).isoformat(),
        "deadline": None if deadline is None else deadline.isoformat(),
        "occurred_at": ms_to_datetime(row["stopped_at_ms"] or row["as_of_ms"]).isoformat(),
        # additive keys for reporting: when the breach fell, and the calendar counted in
        "breached_at": None
        if row["breached_at_ms"] is None
        else ms_to_datetime(row["breached_at_ms"]).isoformat(),
        "calendar": row["calendar"],
    }


def clock_event(event: TicketEvent) -> ClockEvent:
    return ClockEvent(datetime_to_ms(event.occurred_at), event.action, event.status, event.priority)


def clock_event_body(body: dict[str, Any]) -> ClockEvent:
    return ClockEvent(
        parse_timestamp_ms(body["occurred_at"]),
        body["action"],
        body.get("status"),
        body.get("priority"),
    )


def signal_key(signal: dict[str, Any]) -> tuple[str, str, str, float]:
    return (signal["ticket_id"], signal["metric"], signal["kind"], float(signal["threshold"]))


def _json(value: Any) -> str:
    import orjson

    return orjson.dumps(value).decode()
