"""Policy changes applied to open tickets at the instant they take effect: the rules a ticket
was measured by, written down and read back, so a later replay of the ticket still measures
each stretch of its life by the rules in force then (SPEC §10: no back-dated breach)."""

from __future__ import annotations

from typing import Any

from pacta.calendars import CALENDAR_24X7
from sla_engine.clocks import ClockRules
from sla_engine.resources import Registry
from sla_engine.ticket_log import RulesChange


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
