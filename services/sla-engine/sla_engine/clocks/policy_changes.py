"""Policy and calendar versions applied to tickets at the instant they take effect: every
ticket whose life reaches past that instant (open ones, ones ended since, unmeasured ones) is
replayed under its rules timeline, so each stretch is measured by the version in force then and
nothing before the change is recomputed differently (SPEC §11)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pacta.logs import get_logger
from sla_engine.clocks.store import ended_since
from sla_engine.domain.rules import ClockRules
from sla_engine.domain.ticket_log import RulesChange
from sla_engine.domain.timeline import NEVER_SEEN
from sla_engine.store.journal import unmeasured_tickets

if TYPE_CHECKING:
    from sla_engine.clocks.keeper import ClockKeeper

log = get_logger(__name__)


def last_rules(initial: ClockRules | None, changes: list[RulesChange]) -> ClockRules | None:
    """The rules a ticket is measured by now: those of its latest change that has any (the
    clocks a deletion left behind keep the rules they were measured by)."""
    for change in reversed(changes):
        if change.rules is not None:
            return change.rules
    return initial


async def apply_policy_change(
    keeper: ClockKeeper, now: int, since_ms: int, services: set[str] | None = None
) -> int:
    """Replay, under the versions now recorded, every owned ticket of `services` (None: any)
    whose clocks ran at or after `since_ms`, and the unmeasured ones since: clocks switch
    rules there keeping their elapsed time, a ticket no policy covered gets clocks from there
    on, a deleted policy's clocks stop, a correction in the past is measured from its instant."""
    try:
        async with keeper.engine.begin() as conn:
            ids: set[str] = set()
            for ticket_id, ticket in list(keeper.book.items()):
                if ticket_id in keeper.firing or (services and ticket.service not in services):
                    continue
                initial, changes = keeper.registry.timeline(
                    ticket.service, ticket.customer, ticket.ticket_type, NEVER_SEEN
                )
                later = [c for c in changes if c.at_ms >= since_ms]
                if later or last_rules(initial, changes) != ticket.rules:
                    ids.add(ticket_id)
            ended = await ended_since(conn, since_ms=since_ms, services=services)
            unmeasured = await unmeasured_tickets(conn, services=services, since_ms=since_ms)
            ids.update(t for t in [*ended, *unmeasured] if keeper.owns(t))
            ids.difference_update(keeper.firing)
            ordered = sorted(ids)
            outcomes, standing = await keeper.replay_tickets(conn, ordered, now)
            await keeper.persist(conn, outcomes, now, standing)
    except Exception:
        keeper.policy_changed(services, since_ms)  # try again next round
        raise
    keeper.committed(ordered)
    if ordered:
        log.info("policy change applied", tickets=len(ordered), since_ms=since_ms)
    return len(ordered)
