"""The rules a ticket is measured by over its life, as policy and calendar versions take effect
(docs/design.md, "SLA clocks": policy and calendar versions): the rules at its start and each change after, at the instant it takes effect. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pacta.calendars import CALENDAR_24X7, Calendar
from pacta.versions import SINCE_ALWAYS, Version, change_instants, in_effect
from sla_engine.domain.policies import Policy, select_policy
from sla_engine.domain.rules import ClockRules
from sla_engine.domain.ticket_log import RulesChange

PolicyVersions = Mapping[str, Sequence[Version[Policy]]]
CalendarVersions = Mapping[str, Sequence[Version[Calendar]]]

NEVER_SEEN = 2**62
"""`known_since_ms` of a ticket the engine sees for the first time now."""


def as_known_by(versions: Sequence[Version[Policy]], known_since_ms: int) -> list[Version[Policy]]:
    """A policy's versions as they apply to a ticket first journaled at `known_since_ms`.

    A first version PUT with no `effective_from` counts since always for the tickets the
    engine learns of after it was recorded (a backfill is measured from each ticket's start),
    and from its recording for the tickets it already knew: those were open, unmeasured, and
    get clocks from that instant, never a breach from before the policy existed."""
    return [
        v
        if v.effective_from_ms is not None or known_since_ms > v.recorded_at_ms
        else Version(v.version, v.recorded_at_ms, v.value, v.recorded_at_ms)
        for v in versions
    ]


def rules_at(
    policies: PolicyVersions,
    calendars: CalendarVersions,
    at_ms: int,
    *,
    service: str,
    customer: str | None,
    ticket_type: str,
) -> ClockRules | None:
    """The rules of the most specific policy in force at `at_ms` covering the ticket, with the
    version of its calendar in force then."""
    in_force: list[Policy] = []
    numbers: dict[str, int] = {}
    for name, versions in policies.items():
        current = in_effect(versions, at_ms)
        if current is not None and current.value is not None and current.value.targets:
            in_force.append(current.value)
            numbers[name] = current.version
    policy = select_policy(in_force, service, customer, ticket_type)
    if policy is None:
        return None
    calendar, calendar_version = CALENDAR_24X7, 0
    found = in_effect(calendars.get(policy.calendar, ()), at_ms)
    if found is not None and found.value is not None:
        calendar, calendar_version = found.value, found.version
    return policy.clock_rules(
        calendar, policy_version=numbers[policy.name], calendar_version=calendar_version
    )


def ticket_timeline(
    policies: PolicyVersions,
    calendars: CalendarVersions,
    *,
    service: str,
    customer: str | None,
    ticket_type: str,
    known_since_ms: int = NEVER_SEEN,
) -> tuple[ClockRules | None, list[RulesChange]]:
    """(the rules since always, every change after) for one ticket: a change wherever another
    version (of any policy that may cover it, or of its policy's calendar) takes over."""
    known = {name: as_known_by(vs, known_since_ms) for name, vs in policies.items()}
    instants = sorted(
        {t for vs in known.values() for t in change_instants(vs)}
        | {t for vs in calendars.values() for t in change_instants(vs)}
    )

    def at(instant: int) -> ClockRules | None:
        return rules_at(
            known, calendars, instant, service=service, customer=customer, ticket_type=ticket_type
        )

    initial = at(SINCE_ALWAYS)
    changes: list[RulesChange] = []
    previous = initial
    for instant in instants:
        rules = at(instant)
        if rules != previous:
            changes.append(RulesChange(instant, rules))
            previous = rules
    return initial, changes
