"""Policy changes applied to open tickets at the instant they take effect: the rules a ticket
was measured by, written down and read back, so a later replay of the ticket still measures
each stretch of its life by the rules in force then (SPEC §10: no back-dated breach)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pacta.calendars import CALENDAR_24X7
from pacta.logs import get_logger
from sla_engine import store
from sla_engine.domain.clocks import ClockRules
from sla_engine.domain.ticket_log import RulesChange
from sla_engine.resources import Registry

if TYPE_CHECKING:
    from sla_engine.keeper import ClockKeeper

log = get_logger(__name__)


def rules_json(rules: ClockRules | None) -> dict[str, Any] | None:
    """The rules as recorded; the calendar by name (calendars have no versions yet)."""
    if rules is None:
        return None
    return {
        "policy": rules.policy,
        "calendar": rules.calendar.name,
        "targets": {p: dict(m) for p, m in rules.targets.items()},
        "pause_statuses": sorted(rules.pause_statuses),
        "warn_at": list(rules.warn_at),
    }


def rules_of_json(body: dict[str, Any] | None, registry: Registry) -> ClockRules | None:
    if body is None:
        return None
    try:
        calendar = registry.calendar(body["calendar"])
    except KeyError:
        calendar = CALENDAR_24X7  # deleted since: the API refuses that while a policy uses it
    return ClockRules(
        policy=body["policy"],
        calendar=calendar,
        targets={p: {m: int(ms) for m, ms in t.items()} for p, t in body["targets"].items()},
        pause_statuses=frozenset(body["pause_statuses"]),
        warn_at=tuple(body["warn_at"]),
    )


def changes_of(
    recorded: list[dict[str, Any]], registry: Registry
) -> tuple[ClockRules | None, list[RulesChange]]:
    """(rules before the first change, the changes in order) from a ticket's records."""
    if not recorded:
        return None, []
    initial = rules_of_json(recorded[0]["before"], registry)
    changes = [RulesChange(r["at_ms"], rules_of_json(r["after"], registry)) for r in recorded]
    return initial, changes


def _change(
    ticket_id: str, at_ms: int, before: ClockRules | None, after: ClockRules | None
) -> dict[str, Any]:
    return {
        "ticket_id": ticket_id,
        "at_ms": at_ms,
        "before": rules_json(before),
        "after": rules_json(after),
    }


def last_rules(initial: ClockRules | None, changes: list[RulesChange]) -> ClockRules | None:
    """The rules a ticket is measured by now: those of its latest recorded change (or any
    recorded before it, for the clocks a deletion left behind)."""
    for change in reversed(changes):
        if change.rules is not None:
            return change.rules
    return initial


async def apply_policy_change(
    keeper: ClockKeeper, at_ms: int, services: set[str] | None = None
) -> int:
    """Record, for every owned ticket whose policy is no longer the one measuring it, the
    change at `at_ms`, and replay it: clocks switch rules there keeping their elapsed time,
    a ticket no policy covered gets clocks from there on, a deleted policy's clocks stop."""
    try:
        async with keeper.engine.begin() as conn:
            changes: list[dict[str, Any]] = []
            for ticket_id, ticket in list(keeper.book.items()):
                if not ticket.open or ticket_id in keeper.firing:
                    continue
                new = keeper.rules_of_ticket(ticket.service, ticket.customer, ticket.ticket_type)
                if new != ticket.rules:
                    changes.append(_change(ticket_id, at_ms, ticket.rules, new))
            unmeasured = await store.unmeasured_tickets(conn, services=services)
            for ticket_id, first in unmeasured.items():
                if ticket_id in keeper.book or not keeper.owns(ticket_id):
                    continue
                new = keeper.rules_of_first(first)
                if new is not None:
                    changes.append(_change(ticket_id, at_ms, None, new))
            await store.record_rules_changes(conn, changes=changes)
            ids = [c["ticket_id"] for c in changes]
            outcomes, standing = await keeper.replay_tickets(conn, ids, at_ms)
            await keeper.persist(conn, outcomes, at_ms, standing)
    except Exception:
        keeper.policy_changed(services)  # try again next round
        raise
    keeper.committed(ids)
    if ids:
        log.info("policy change applied", tickets=len(ids))
    return len(ids)
