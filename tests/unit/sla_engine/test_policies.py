"""Policy and calendar models: the documented JSON, strict validation, selection by specificity."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from pacta.calendars import CALENDAR_24X7, Calendar
from sla_engine.domain.policies import (
    CalendarSpec,
    Policy,
    PolicySpec,
    load_policies,
    resolve_calendar,
    select_availability_policy,
    select_policy,
)
from sla_engine.resources.calendar_feed import policy_record

EXAMPLE: dict[str, Any] = {
    "match": {"service": "checkout", "customer": None, "type": ["incident"]},
    "calendar": "24x7",
    "targets": {
        "P1": {"response": "15m", "resolution": "4h"},
        "P2": {"response": "1h", "resolution": "8h"},
    },
    "pause_statuses": ["waiting_for_customer"],
    "warn_at": [0.5, 0.75, 0.9],
    "availability": {"target": 99.9, "calendar": "24x7", "down_severities": ["critical"]},
}


def policy(name: str, **match: Any) -> Policy:
    return PolicySpec.model_validate(
        {"match": match, "targets": {"P1": {"response": "1h", "resolution": "4h"}}}
    ).named(name)


def test_the_spec_example_parses_into_clock_rules() -> None:
    gold = PolicySpec.model_validate(EXAMPLE).named("gold")
    assert gold.targets["P1"].resolution == 4 * 3600
    rules = gold.clock_rules(CALENDAR_24X7)
    assert rules.policy == "gold"
    assert rules.target_ms("P1", "response") == 15 * 60_000
    assert rules.target_ms("P2", "resolution") == 8 * 3_600_000
    assert rules.target_ms("P3", "resolution") is None
    assert rules.target_ms(None, "resolution") is None
    assert rules.pause_statuses == {"waiting_for_customer"}
    assert rules.warn_at == (0.5, 0.75, 0.9)
    assert gold.calendar_names() == {"24x7"}
    # what GET returns can be PUT back
    assert PolicySpec.model_validate(gold.model_dump(exclude={"name"})).named("gold") == gold
    assert (
        PolicySpec.model_validate_json(gold.model_dump_json(exclude={"name"})).named("gold") == gold
    )


def test_defaults_and_normalisation() -> None:
    spec = PolicySpec.model_validate(
        {"targets": {"P3": {"response": "PT2H", "resolution": 86_400}}, "warn_at": [0.9, 0.5, 0.9]}
    )
    assert spec.match.service is None
    assert spec.calendar == "24x7"
    assert spec.warn_at == [0.5, 0.9]
    availability = PolicySpec.model_validate({"availability": {"target": 99.5}}).availability
    assert availability is not None
    assert availability.down_severities == ["critical"]
    assert availability.calendar == "24x7"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"extra": 1}, "extra"),
        ({"match": {"service": "a", "team": "b"}}, "match.team"),
        ({"match": {"type": ["outage"]}}, "match.type.0"),
        ({"match": {"type": []}}, "match.type"),
        ({"targets": {"P5": {"response": "1h", "resolution": "4h"}}}, "targets.P5.[key]"),
        ({"targets": {"P1": {"response": "1h"}}}, "targets.P1.resolution"),
        ({"targets": {"P1": {"response": "0s", "resolution": "4h"}}}, "targets.P1.response"),
        ({"targets": {"P1": {"response": "1y", "resolution": "4h"}}}, "targets.P1.response"),
        ({"warn_at": [0.5, 1.0]}, "warn_at"),
        ({"warn_at": [0]}, "warn_at"),
        ({"availability": {"target": 100}}, "availability.target"),
        ({"availability": {"target": 0}}, "availability.target"),
        ({"availability": {"target": 99.9, "down_severities": []}}, "availability.down_severities"),
        (
            {"availability": {"target": 99.9, "down_severities": ["fatal"]}},
            "availability.down_severities.0",
        ),
        ({"calendar": "has space"}, "calendar"),
        ({"warn_before": ["-5m"]}, "warn_before.0"),
    ],
)
def test_invalid_policies_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PolicySpec.model_validate({**EXAMPLE, **change})
    locations = {".".join(str(part) for part in error["loc"]) for error in caught.value.errors()}
    assert field in locations


def test_a_policy_must_measure_something() -> None:
    with pytest.raises(ValidationError, match="targets, an availability target"):
        PolicySpec.model_validate({"match": {"service": "x"}})


def test_policy_names_are_url_safe() -> None:
    with pytest.raises(ValidationError):
        PolicySpec.model_validate(EXAMPLE).named("../etc")
    assert load_policies({"gold": EXAMPLE})[0].name == "gold"


def test_selection_by_specificity() -> None:
    policies = [
        policy("catch-all"),
        policy("customer-only", customer="acme"),
        policy("service", service="checkout"),
        policy("service-customer", service="checkout", customer="acme"),
        policy("other-service", service="search"),
    ]
    for order in (policies, policies[::-1]):
        assert select_policy(order, "checkout", "acme", "incident").name == "service-customer"  # type: ignore[union-attr]
        assert select_policy(order, "checkout", "globex", "incident").name == "service"  # type: ignore[union-attr]
        assert select_policy(order, "billing", "acme", "incident").name == "customer-only"  # type: ignore[union-attr]
        assert select_policy(order, "billing", None, "incident").name == "catch-all"  # type: ignore[union-attr]
    assert select_policy([policy("only-search", service="search")], "checkout") is None


def test_type_lists_refine_and_ties_go_to_the_first_name() -> None:
    incidents = policy("b-incidents", service="checkout", type=["incident"])
    general = policy("a-general", service="checkout")
    twin = policy("c-general", service="checkout")
    assert select_policy([general, incidents, twin], "checkout", None, "incident") == incidents
    assert select_policy([twin, incidents, general], "checkout", None, "change") == general
    # without a ticket type (monitoring) a type list does not exclude the policy
    assert select_policy([incidents], "checkout") == incidents


def test_availability_policy_selection() -> None:
    with_availability = {"availability": {"target": 99.9}}
    specific = PolicySpec.model_validate(
        {"match": {"service": "checkout"}, **with_availability}
    ).named("z")
    fallback = PolicySpec.model_validate(with_availability).named("a")
    per_customer = PolicySpec.model_validate(
        {"match": {"service": "checkout", "customer": "acme"}, **with_availability}
    ).named("b")
    tickets_only = policy("c", service="checkout")
    everything = [fallback, per_customer, tickets_only, specific]
    assert select_availability_policy(everything, "checkout") == specific
    assert select_availability_policy(everything, "search") == fallback
    assert select_availability_policy([tickets_only], "checkout") is None


def test_calendar_spec_round_trips_to_the_dataclass() -> None:
    body: dict[str, Any] = {
        "timezone": "Europe/Berlin",
        "hours": {"mon": ["13:00-18:00", "09:00-17:00"], "fri": ["09:00-12:00"]},
        "holidays": ["2026-12-25"],
        "holiday_country": "de",
    }
    spec = CalendarSpec.model_validate(body)
    assert spec.hours == {"mon": ["09:00-18:00"], "fri": ["09:00-12:00"]}
    assert spec.holidays == [date(2026, 12, 25)]
    cal = spec.to_calendar("office")
    assert cal == Calendar(
        "office", "Europe/Berlin", body["hours"], holidays=["2026-12-25"], holiday_country="DE"
    )
    assert CalendarSpec.from_calendar(cal) == spec
    assert CalendarSpec.model_validate_json(spec.model_dump_json()) == spec
    default = CalendarSpec.model_validate({}).to_calendar("always")
    assert default.always


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"hours": {"mon": ["9-17"]}}, r"hours\.mon\[0\]"),
        ({"hours": {"mon": "09:00-17:00"}}, "valid list"),
        ({"hours": {"mon": []}}, "some working time"),
        ({"holidays": ["25.12.2026"]}, "YYYY-MM-DD"),
        ({"holiday_country": "XX"}, "holiday_country"),
        ({"holiday_country": "Germany"}, "holiday_country"),
        ({"holiday_subdivision": "BY"}, "holiday_subdivision"),
        ({"name": "x"}, "Extra inputs"),
    ],
)
def test_invalid_calendars(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CalendarSpec.model_validate(body)


def test_resolve_calendar() -> None:
    office = Calendar("office", "Europe/Berlin")
    assert resolve_calendar("office", {"office": office}) is office
    assert resolve_calendar("24x7", {}) is CALENDAR_24X7
    with pytest.raises(KeyError, match="nowhere"):
        resolve_calendar("nowhere", {})


def test_a_priority_may_carry_a_compliance_target_in_percent() -> None:
    body = {
        "targets": {
            "P1": {"response": "15m", "resolution": "4h", "compliance": 95},
            "P2": {"response": "1h", "resolution": "8h"},
        },
        "availability": {"target": 99.9, "coverage": {"max_silence": "10m"}},
    }
    gold = PolicySpec.model_validate(body).named("gold")
    assert gold.targets["P1"].compliance == 95
    assert gold.targets["P2"].compliance is None
    dumped = gold.model_dump(mode="json")
    # kept with the body (and so with every version of it), and left out where not set, so a
    # policy stored before compliance targets existed reads back unchanged
    assert dumped["targets"]["P1"]["compliance"] == 95
    assert "compliance" not in dumped["targets"]["P2"]
    assert PolicySpec.model_validate(gold.model_dump(exclude={"name"})).named("gold") == gold


@pytest.mark.parametrize("compliance", [-1, 100.5, "high", None])
def test_compliance_is_a_percent_from_0_to_100(compliance: object) -> None:
    body = {"targets": {"P1": {"response": "15m", "resolution": "4h", "compliance": compliance}}}
    if compliance is None:
        assert PolicySpec.model_validate(body).targets["P1"].compliance is None
        return
    with pytest.raises(ValidationError, match="compliance"):
        PolicySpec.model_validate(body)


def test_availability_coverage_names_the_longest_silence() -> None:
    body = {"availability": {"target": 99.9, "coverage": {"max_silence": "10m"}}}
    policy = PolicySpec.model_validate(body)
    assert policy.availability is not None
    assert policy.availability.coverage is not None
    assert policy.availability.coverage.max_silence == 600
    # without it nothing changes in what is stored
    plain = PolicySpec.model_validate({"availability": {"target": 99.9}})
    assert "coverage" not in plain.model_dump(mode="json")["availability"]
    for bad in ("0s", "soon", None):
        with pytest.raises(ValidationError, match="max_silence"):
            PolicySpec.model_validate(
                {"availability": {"target": 99.9, "coverage": {"max_silence": bad}}}
            )


def test_the_policy_record_reporting_reads_carries_each_version_compliance() -> None:
    v1 = PolicySpec.model_validate(
        {"targets": {"P1": {"response": "15m", "resolution": "4h", "compliance": 95}}}
    )
    v2 = PolicySpec.model_validate(
        {"targets": {"P1": {"response": "15m", "resolution": "4h", "compliance": 99.5}}}
    )
    versions = [
        {
            "version": n,
            "effective_from": None,
            "recorded_at": datetime(2026, 11, n, tzinfo=UTC),
            "body": spec.model_dump(mode="json"),
        }
        for n, spec in ((1, v1), (2, v2))
    ]
    record = policy_record("gold", versions)
    assert [v["spec"]["targets"]["P1"]["compliance"] for v in record["versions"]] == [95, 99.5]  # type: ignore[index]
