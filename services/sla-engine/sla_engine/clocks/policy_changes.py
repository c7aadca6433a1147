"""Which tickets a policy or calendar version reaches: every ticket whose life runs past the
instant it takes effect (open ones, ones ended since, unmeasured ones) is replayed under its
rules timeline, so each stretch is measured by the version in force then and nothing before
the change is recomputed differently (docs/api.md, "Versions of policies and calendars")."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy.ext.asyncio import AsyncConnection

from sla_engine.clocks.store import ended_since
from sla_engine.domain.rules import ClockRules
from sla_engine.domain.ticket_log import RulesChange
from sla_engine.domain.tickets import Ticket
from sla_engine.domain.timeline import NEVER_SEEN
from sla_engine.resources.registry import Registry
from sla_engine.store.journal import unmeasured_tickets


def last_rules(initial: ClockRules | None, changes: list[RulesChange]) -> ClockRules | None:
    """The rules a ticket is measured by now: those of its latest change that has any (the
    clocks a deletion left behind keep the rules they were measured by)."""
    for change in reversed(changes):
        if change.rules is not None:
            return change.rules
    return initial


async def tickets_reached(
    conn: AsyncConnection,
    *,
    held: Iterable[Ticket],
    registry: Registry,
    since_ms: int,
    services: set[str] | None,
    owns: Callable[[str], bool],
) -> set[str]:
    """The tickets of `services` (None: any) this instance owns whose clocks ran at or after
    `since_ms`, and the unmeasured ones since: among those `held` in memory, the ones with a
    change from then on or measured by other rules than the latest; from the database, those
    ended since and those no policy covered."""
    ids: set[str] = set()
    for ticket in held:
        if services and ticket.service not in services:
            continue
        initial, changes = registry.timeline(
            ticket.service, ticket.customer, ticket.ticket_type, NEVER_SEEN
        )
        later = [c for c in changes if c.at_ms >= since_ms]
        if later or last_rules(initial, changes) != ticket.rules:
            ids.add(ticket.ticket_id)
    ended = await ended_since(conn, since_ms=since_ms, services=services)
    unmeasured = await unmeasured_tickets(conn, services=services, since_ms=since_ms)
    ids.update(t for t in [*ended, *unmeasured] if owns(t))
    return ids
