"""Silences, inhibition (Alertmanager's semantics) and time intervals by business calendars."""

from __future__ import annotations

from alerting.domain.matchers import parse_matcher_list
from alerting.domain.muting import (
    InhibitRule,
    Silence,
    inhibited,
    next_time_change,
    silenced_by,
    time_muted,
)
from pacta.calendars import CALENDAR_24X7, Calendar
from pacta.durations import parse_timestamp_ms


def silence(*matchers: str, start: int = 0, end: int = 1_000) -> Silence:
    return Silence("s", tuple(parse_matcher_list(list(matchers))), start, end)


def test_a_silence_mutes_what_all_its_matchers_match_while_active() -> None:
    s = silence("service=checkout", 'priority=~"P1|P2"', start=100, end=200)
    labels = {"service": "checkout", "priority": "P1"}
    assert silenced_by([s], labels, 150) == [s]
    assert silenced_by([s], labels, 99) == []
    assert silenced_by([s], labels, 200) == []
    assert silenced_by([s], {"service": "checkout", "priority": "P3"}, 150) == []


def rule(source: str, target: str, *equal: str) -> InhibitRule:
    return InhibitRule(
        tuple(parse_matcher_list([source])), tuple(parse_matcher_list([target])), equal
    )


def test_an_availability_breach_mutes_the_services_response_warnings() -> None:
    r = rule("kind=availability_breach", "kind=warning, metric=response", "service")
    source = ("src", {"kind": "availability_breach", "service": "checkout"})
    target = {"kind": "warning", "metric": "response", "service": "checkout"}
    other = {"kind": "warning", "metric": "response", "service": "search"}
    assert inhibited([r], "t", target, [source])
    assert not inhibited([r], "t", other, [source])
    assert not inhibited([r], "t", target, [])


def test_missing_equal_labels_agree_and_an_alert_never_inhibits_itself() -> None:
    r = rule("kind=~.+", "kind=warning", "cluster")
    labels = {"kind": "warning"}
    assert inhibited([r], "t", labels, [("other", {"kind": "breach"})])
    assert not inhibited([r], "t", labels, [("t", labels)])


def test_time_intervals_by_calendar() -> None:
    office = Calendar(name="office", timezone="Europe/Berlin", hours={"mon": ["09:00-17:00"]})
    cals = {"office": office, "24x7": CALENDAR_24X7}
    monday_noon = parse_timestamp_ms("2026-11-30T12:00:00+01:00")
    monday_night = parse_timestamp_ms("2026-11-30T22:00:00+01:00")
    # active only in office hours
    assert not time_muted([], ["office"], cals, monday_noon)
    assert time_muted([], ["office"], cals, monday_night)
    # muted in office hours
    assert time_muted(["office"], [], cals, monday_noon)
    assert not time_muted(["office"], [], cals, monday_night)
    assert time_muted(["24x7"], [], cals, monday_night)
    # unknown calendars fail open
    assert not time_muted(["nope"], ["nope"], cals, monday_night)
    # the next time the route may change its mind
    assert next_time_change(["office"], cals, monday_noon) == parse_timestamp_ms(
        "2026-11-30T17:00:00+01:00"
    )
    assert next_time_change(["24x7"], cals, monday_noon) is None


def test_alerts_matching_both_sides_of_a_rule_do_not_inhibit_each_other() -> None:
    # Alertmanager: an alert matching source and target is not inhibited by another alert
    # that also matches both (otherwise every such alert would mute the rest)
    both = parse_matcher_list(['kind="breach"', 'service="S"'])
    rule = InhibitRule(tuple(both), tuple(both), ("service",))
    a = {"kind": "breach", "service": "S", "ticket_id": "1"}
    b = {"kind": "breach", "service": "S", "ticket_id": "2"}
    assert not inhibited([rule], "a", a, [("a", a), ("b", b)])
    assert not inhibited([rule], "b", b, [("a", a), ("b", b)])


def test_a_source_only_alert_still_inhibits_a_two_sided_one() -> None:
    rule = InhibitRule(
        tuple(parse_matcher_list(['severity=~"critical|major"'])),
        tuple(parse_matcher_list(['severity=~"major|minor"'])),
        ("service",),
    )
    critical = {"severity": "critical", "service": "S"}
    major = {"severity": "major", "service": "S"}
    minor = {"severity": "minor", "service": "S"}
    assert inhibited([rule], "major", major, [("critical", critical), ("major", major)])
    assert inhibited([rule], "minor", minor, [("major", major)])
    # major against major only: both sides match both, no inhibition
    other_major = {"severity": "major", "service": "S", "x": "1"}
    assert not inhibited([rule], "major", major, [("major2", other_major)])
