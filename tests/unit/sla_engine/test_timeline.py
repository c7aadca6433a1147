"""A ticket's rules over its life from policy and calendar versions (docs/design.md, "SLA clocks"), and what a
replay does with them: each stretch measured by the version in force, nothing before a change
recomputed, a clock that ended before a change keeping its version until a reopen."""

from __future__ import annotations

from pacta.calendars import CALENDAR_24X7, WEEKDAYS, Calendar
from pacta.versions import Version
from sla_engine.domain.policies import Policy, PolicySpec
from sla_engine.domain.rules import ClockRules
from sla_engine.domain.ticket_log import RulesChange, TicketEvent, replay
from sla_engine.domain.timeline import ticket_timeline

H = 3_600_000
DAY = 24 * H
E = 15 * DAY  # "the 15th"
OFFICE = Calendar("office", "UTC", {d: ["09:00-17:00"] for d in WEEKDAYS[:5]})
LONG_DAYS = Calendar("office", "UTC", {d: ["08:00-20:00"] for d in WEEKDAYS[:5]})


def policy(resolution: str, calendar: str = "24x7", service: str | None = "shop") -> Policy:
    body = {
        "match": {"service": service},
        "calendar": calendar,
        "warn_at": [],
        "targets": {"P1": {"response": "8h", "resolution": resolution}},
    }
    return PolicySpec.model_validate(body).named("gold" if service else "catch-all")


CALENDARS = {"24x7": [Version(1, None, CALENDAR_24X7)]}


def timeline(
    policies: dict[str, list[Version[Policy]]],
    calendars: dict[str, list[Version[Calendar]]] = CALENDARS,
    known_since_ms: int = 2**62,
) -> tuple[ClockRules | None, list[RulesChange]]:
    return ticket_timeline(
        policies,
        calendars,
        service="shop",
        customer=None,
        ticket_type="incident",
        known_since_ms=known_since_ms,
    )


def test_a_later_version_is_a_change_at_its_instant() -> None:
    initial, changes = timeline(
        {"gold": [Version(1, None, policy("4h")), Version(2, E, policy("2h"))]}
    )
    assert initial is not None
    assert initial.policy_version == 1
    assert [(c.at_ms, c.rules and c.rules.policy_version) for c in changes] == [(E, 2)]
    assert changes[0].rules is not None
    assert changes[0].rules.target_ms("P1", "resolution") == 2 * H


def test_a_version_of_another_policy_that_does_not_win_changes_nothing() -> None:
    versions = {
        "gold": [Version(1, None, policy("4h"))],
        "catch-all": [Version(1, None, policy("1h", service=None)), Version(2, E, None)],
    }
    _, changes = timeline(versions)
    assert changes == []


def test_a_calendar_version_is_a_change_of_the_policies_on_it() -> None:
    calendars = {**CALENDARS, "office": [Version(1, None, OFFICE), Version(2, E, LONG_DAYS)]}
    _, changes = timeline({"gold": [Version(1, None, policy("4h", "office"))]}, calendars)
    assert len(changes) == 1
    assert changes[0].at_ms == E
    assert changes[0].rules is not None
    assert (changes[0].rules.calendar, changes[0].rules.calendar_version) == (LONG_DAYS, 2)


def test_a_first_version_counts_since_always_only_for_tickets_learnt_of_after_it() -> None:
    recorded = 10 * DAY
    versions = {"gold": [Version(1, None, policy("4h"), recorded_at_ms=recorded)]}
    initial, changes = timeline(versions, known_since_ms=recorded + 1)
    assert initial is not None
    assert changes == []
    # a ticket the engine already had: no policy until the first version was recorded
    initial, changes = timeline(versions, known_since_ms=recorded - 1)
    assert initial is None
    assert [c.at_ms for c in changes] == [recorded]


def test_a_deletion_ends_the_rules_at_its_instant() -> None:
    _, changes = timeline({"gold": [Version(1, None, policy("4h")), Version(2, E, None)]})
    assert changes == [RulesChange(E, None)]


def test_replay_measures_each_stretch_by_its_version_and_keeps_ended_clocks() -> None:
    _, changes = timeline({"gold": [Version(1, None, policy("4h")), Version(2, E, policy("2h"))]})
    v1 = policy("4h").clock_rules(CALENDAR_24X7, policy_version=1, calendar_version=1)
    events = [
        # ended before the change: 3 h, met under the 4 h of version 1, and stays so
        TicketEvent(E - 6 * H, "created", "open", "P1"),
        TicketEvent(E - 3 * H, "resolved", "resolved"),
    ]
    clocks, intents = replay(
        events, ticket_id="T", service="shop", rules=v1, now_ms=E + DAY, changes=changes
    )
    clock = clocks["resolution"]
    assert (clock.policy_version, clock.target_ms, clock.breached_at_ms) == (1, 4 * H, None)
    assert [i.kind for i in intents if i.metric == "resolution"] == ["met"]
    # reopened after the change: from then on it counts against version 2's 2 h
    events.append(TicketEvent(E + H, "reopened", "open"))
    clocks, intents = replay(
        events, ticket_id="T", service="shop", rules=v1, now_ms=E + DAY, changes=changes
    )
    clock = clocks["resolution"]
    assert (clock.policy_version, clock.target_ms) == (2, 2 * H)
    breach = next(i for i in intents if i.kind == "breach" and i.metric == "resolution")
    assert (breach.occurred_at_ms, breach.policy_version) == (E + H, 2)  # 3 h counted > 2 h


def test_replay_switches_an_open_clock_at_the_change_keeping_its_elapsed_time() -> None:
    _, changes = timeline({"gold": [Version(1, None, policy("4h")), Version(2, E, policy("2h"))]})
    v1 = policy("4h").clock_rules(CALENDAR_24X7, policy_version=1, calendar_version=1)
    events = [TicketEvent(E - H, "created", "open", "P1")]
    clocks, intents = replay(
        events, ticket_id="T", service="shop", rules=v1, now_ms=E + DAY, changes=changes
    )
    breach = next(i for i in intents if i.kind == "breach" and i.metric == "resolution")
    assert (breach.occurred_at_ms, breach.elapsed_ms, breach.target_ms) == (E + H, 2 * H, 2 * H)
    assert clocks["resolution"].policy_version == 2
