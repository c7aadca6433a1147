"""End to end through the sla-engine's HTTP API (docs/api/sla-engine.openapi.json): calendars and policies created,
replaced, listed and deleted as a new user would, every bad body answered 4xx naming the field,
never 500; and the most specific policy is the one a ticket's clocks run under."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support.client import INGEST_KEY, iso, post
from tests.support.processes import ServiceProcess
from tests.support.sla_api import call, local, put, wait_clocks

pytestmark = pytest.mark.e2e
PROBLEM = "application/problem+json"
OFFICE = {
    "timezone": "Europe/Berlin",
    "hours": {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-12-24"],
}


@pytest.fixture
def engine(stack: dict[str, ServiceProcess]) -> str:
    return stack["sla_engine"].url


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    """The problem document of an answer that must have `status`."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text}"
    assert r.headers["content-type"].startswith(PROBLEM), r.headers["content-type"]
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    return body


def fields(body: dict[str, Any]) -> list[str]:
    return [e["field"] for e in body.get("errors", [])]


# ---- calendars ----------------------------------------------------------------------------


def test_calendar_lifecycle(engine: str) -> None:
    name = f"office-{uuid.uuid4().hex[:8]}"
    url = f"{engine}/v1/calendars/{name}"
    assert call("GET", url).status_code == 404
    r = call("PUT", url, OFFICE)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["name"] == name
    assert created["timezone"] == "Europe/Berlin"
    assert created["hours"]["mon"] == ["09:00-17:00"]
    assert "sat" not in created["hours"]  # a day without hours is a day off
    assert created["holidays"] == ["2026-12-24"]
    assert created["builtin"] is False
    assert created["origin"] == "api"
    assert call("GET", url).json() == created

    # replaced: several intervals a day (overlapping ones merge), a country's public holidays
    replacement = {
        "timezone": "Europe/Berlin",
        "hours": {
            "mon": ["08:00-12:00", "13:00-17:00"],
            "tue": ["13:00-17:00", "08:00-12:00"],
            "wed": ["08:00-12:00", "11:00-14:00"],
            "sat": ["10:00-14:00"],
        },
        "holidays": ["2026-11-19"],
        "holiday_country": "de",
    }
    r = call("PUT", url, replacement)
    assert r.status_code == 200, r.text
    got = call("GET", url).json()
    assert got["hours"] == {
        "mon": ["08:00-12:00", "13:00-17:00"],
        "tue": ["08:00-12:00", "13:00-17:00"],
        "wed": ["08:00-14:00"],
        "sat": ["10:00-14:00"],
    }
    assert got["holidays"] == ["2026-11-19"]
    assert got["holiday_country"] == "DE"

    listed = call("GET", f"{engine}/v1/calendars").json()["items"]
    by_name = {c["name"]: c for c in listed}
    assert by_name[name] == got
    assert by_name["24x7"]["builtin"] is True
    assert [c["name"] for c in listed].count(name) == 1

    assert call("DELETE", url).status_code == 204
    problem(call("GET", url), 404)
    problem(call("DELETE", url), 404)
    assert name not in {c["name"] for c in call("GET", f"{engine}/v1/calendars").json()["items"]}


def test_builtin_24x7_always_exists_and_cannot_change(engine: str) -> None:
    r = call("GET", f"{engine}/v1/calendars/24x7")
    assert r.status_code == 200
    assert r.json()["builtin"] is True
    assert r.json()["origin"] == "builtin"
    assert r.json()["hours"] == {day: ["00:00-24:00"] for day in r.json()["hours"]}
    assert len(r.json()["hours"]) == 7
    problem(call("PUT", f"{engine}/v1/calendars/24x7", OFFICE), 409)
    problem(call("DELETE", f"{engine}/v1/calendars/24x7"), 409)
    assert call("GET", f"{engine}/v1/calendars/24x7").json() == r.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"timezone": 5}, "timezone"),
        ({"hours": {"mon": ["25:00-26:00"]}}, "hours"),
        ({"hours": {"mon": ["17:00-09:00"]}}, "hours"),
        ({"hours": {"mon": ["09:00-09:00"]}}, "hours"),
        ({"hours": {"mon": ["9-17"]}}, "hours"),
        ({"hours": {"mon": ["09:60-17:00"]}}, "hours"),
        ({"hours": {"mon": ["00:00-24:01"]}}, "hours"),
        ({"hours": {"monday": ["09:00-17:00"]}}, "hours"),
        ({"hours": {"mon": "09:00-17:00"}}, "hours.mon"),
        ({"hours": {}}, "hours"),
        ({"hours": {"mon": []}}, "hours"),
        ({"holidays": ["2026-02-30"]}, "holidays.0"),
        ({"holidays": ["25.12.2026"]}, "holidays.0"),
        ({"holidays": "2026-12-25"}, "holidays"),
        ({"holiday_country": "XX"}, "holiday_country"),
        ({"holiday_country": "Germany"}, "holiday_country"),
        ({"holiday_country": "MON"}, "holiday_country"),
        ({"holiday_country": "sun"}, "holiday_country"),
        ({"holiday_subdivision": "BY"}, "holiday_subdivision"),
        ({"holiday_country": "DE", "holiday_subdivision": "XX"}, "holiday_subdivision"),
        ({"timezone": "UTC", "color": "blue"}, "color"),
    ],
)
def test_bad_calendar_is_422_naming_the_field(
    engine: str, body: dict[str, Any], field: str
) -> None:
    name = f"bad-{uuid.uuid4().hex[:8]}"
    answer = problem(call("PUT", f"{engine}/v1/calendars/{name}", body), 422)
    assert field in fields(answer), answer
    assert field.split(".")[0] in answer["detail"], answer
    problem(call("GET", f"{engine}/v1/calendars/{name}"), 404)  # nothing half-written


@pytest.mark.parametrize(
    ("content", "status"),
    [(b"{", 400), (b"", 400), (b"[]", 422), (b'"24x7"', 422), (b"null", 422)],
)
def test_calendar_body_not_an_object(engine: str, content: bytes, status: int) -> None:
    r = httpx.put(
        f"{engine}/v1/calendars/raw-{uuid.uuid4().hex[:8]}",
        content=content,
        headers={"Authorization": "Bearer test-admin-key", "Content-Type": "application/json"},
    )
    problem(r, status)


def test_calendar_access_needs_the_admin_key_to_change(engine: str) -> None:
    name = f"keys-{uuid.uuid4().hex[:8]}"
    url = f"{engine}/v1/calendars/{name}"
    problem(call("PUT", url, OFFICE, key=INGEST_KEY), 403)
    problem(call("PUT", url, OFFICE, key=None), 401)
    problem(call("PUT", url, OFFICE, key="not-a-key"), 401)
    problem(call("GET", url), 404)  # none of them wrote anything
    put(engine, "calendars", name, OFFICE)
    problem(call("DELETE", url, key=INGEST_KEY), 403)
    problem(call("DELETE", url, key=None), 401)
    problem(call("GET", url, key=None), 401)
    problem(call("GET", f"{engine}/v1/calendars", key=None), 401)
    assert call("GET", url, key=INGEST_KEY).status_code == 200  # reading needs any valid key
    assert call("DELETE", url).status_code == 204


@pytest.mark.parametrize(
    ("path", "statuses"),
    [
        ("../x", (404,)),
        ("..%2Fx", (404, 422)),
        ("%2E%2E", (404, 422)),
        ("x" * 10_240, (404, 414, 422)),
        ("x" * 129, (422,)),
        ("has%20space", (422,)),
        ("%E2%82%AC", (422,)),
        ("-leading-dash", (422,)),
        ("a;drop", (422,)),
    ],
)
def test_strange_names_are_4xx_never_500(engine: str, path: str, statuses: tuple[int, ...]) -> None:
    for method in ("PUT", "GET", "DELETE"):
        for kind in ("calendars", "policies"):
            body = (
                OFFICE
                if kind == "calendars"
                else {"targets": {"P1": {"response": "1h", "resolution": "4h"}}}
            )
            r = call(method, f"{engine}/v1/{kind}/{path}", body if method == "PUT" else None)
            assert r.status_code in statuses, (method, kind, r.status_code, r.text[:300])
            assert r.headers["content-type"].startswith(PROBLEM)
    # the longest name allowed is 128 characters
    name = "n" + uuid.uuid4().hex[:8] + "x" * 119
    put(engine, "calendars", name, OFFICE)
    assert call("DELETE", f"{engine}/v1/calendars/{name}").status_code == 204


def test_a_calendar_in_use_cannot_be_deleted(engine: str) -> None:
    tag = uuid.uuid4().hex[:8]
    put(engine, "calendars", f"used-{tag}", OFFICE)
    put(engine, "calendars", f"avail-{tag}", OFFICE)
    put(
        engine,
        "policies",
        f"user-{tag}",
        {
            "match": {"service": f"svc-{tag}"},
            "calendar": f"used-{tag}",
            "targets": {"P1": {"response": "15m", "resolution": "4h"}},
            "availability": {"target": 99.5, "calendar": f"avail-{tag}"},
        },
    )
    for calendar in (f"used-{tag}", f"avail-{tag}"):
        answer = problem(call("DELETE", f"{engine}/v1/calendars/{calendar}"), 409)
        assert f"user-{tag}" in answer["detail"]
        assert call("GET", f"{engine}/v1/calendars/{calendar}").status_code == 200
    assert call("DELETE", f"{engine}/v1/policies/user-{tag}").status_code == 204
    for calendar in (f"used-{tag}", f"avail-{tag}"):
        assert call("DELETE", f"{engine}/v1/calendars/{calendar}").status_code == 204


# ---- policies -----------------------------------------------------------------------------

EXAMPLE = """
  {"match": {"service": "checkout", "customer": null, "type": ["incident"]},
   "calendar": "24x7",
   "targets": {"P1": {"response": "15m", "resolution": "4h"}, "P2": {"response": "1h", "resolution": "8h"}},
   "pause_statuses": ["waiting_for_customer"],
   "warn_at": [0.5, 0.75, 0.9],
   "availability": {"target": 99.9, "calendar": "24x7", "down_severities": ["critical"]}}
"""


def test_the_spec_example_policy_is_accepted_verbatim(engine: str) -> None:
    name = f"spec-example-{uuid.uuid4().hex[:8]}"
    url = f"{engine}/v1/policies/{name}"
    r = httpx.put(
        url,
        content=EXAMPLE.encode(),
        headers={"Authorization": "Bearer test-admin-key", "Content-Type": "application/json"},
    )
    try:
        assert r.status_code == 201, r.text
        got = call("GET", url).json()
        assert got["name"] == name
        assert got["match"] == {"service": "checkout", "customer": None, "type": ["incident"]}
        assert got["calendar"] == "24x7"
        # durations come back in whole seconds, which a PUT accepts as well
        assert got["targets"] == {
            "P1": {"response": 900, "resolution": 14_400},
            "P2": {"response": 3_600, "resolution": 28_800},
        }
        assert got["pause_statuses"] == ["waiting_for_customer"]
        assert got["warn_at"] == [0.5, 0.75, 0.9]
        assert got["availability"] == {
            "target": 99.9,
            "calendar": "24x7",
            "down_severities": ["critical"],
        }
        listed = call("GET", f"{engine}/v1/policies").json()["items"]
        assert [p for p in listed if p["name"] == name] == [got]
        # what GET gives back can be PUT again unchanged
        body = {k: v for k, v in got.items() if k not in ("name", "origin")}
        r = call("PUT", url, body)
        assert r.status_code == 200, r.text
        assert call("GET", url).json() == got
    finally:
        call("DELETE", url)  # a policy on `checkout` must not outlive this test
    problem(call("GET", url), 404)
    problem(call("DELETE", url), 404)


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("4h", 14_400),
        ("2d", 172_800),
        ("PT4H", 14_400),
        ("P1DT12H", 129_600),
        ("4h30m", 16_200),
        ("pt15m", 900),
        (5_400, 5_400),
    ],
)
def test_durations(engine: str, written: str | int, seconds: int) -> None:
    name = f"dur-{uuid.uuid4().hex[:8]}"
    got = put(
        engine,
        "policies",
        name,
        {
            "match": {"service": f"svc-{name}"},
            "targets": {"P3": {"response": written, "resolution": "2d"}},
        },
    )
    assert got["targets"]["P3"] == {"response": seconds, "resolution": 172_800}
    assert call("DELETE", f"{engine}/v1/policies/{name}").status_code == 204


def _policy(**change: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "match": {"service": "svc-never-used"},
        "targets": {"P1": {"response": "15m", "resolution": "4h"}},
    }
    body.update(change)
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_policy(targets={"P1": {"response": "-5m", "resolution": "4h"}}), "targets.P1.response"),
        (_policy(targets={"P1": {"response": "0s", "resolution": "4h"}}), "targets.P1.response"),
        (
            _policy(targets={"P1": {"response": "15m", "resolution": "P1Y"}}),
            "targets.P1.resolution",
        ),
        (_policy(targets={"P1": {"response": "P1M", "resolution": "4h"}}), "targets.P1.response"),
        (_policy(targets={"P1": {"response": "soon", "resolution": "4h"}}), "targets.P1.response"),
        (_policy(targets={"P1": {"response": "1.5h", "resolution": "4h"}}), "targets.P1.response"),
        (_policy(targets={"P1": {"response": "", "resolution": "4h"}}), "targets.P1.response"),
        (_policy(targets={"P1": {"response": 0, "resolution": "4h"}}), "targets.P1.response"),
        (_policy(targets={"P1": {"response": True, "resolution": "4h"}}), "targets.P1.response"),
        (_policy(targets={"P1": {"response": "500d", "resolution": "4h"}}), "targets.P1.response"),
        (_policy(targets={"P1": {"response": "15m"}}), "targets.P1.resolution"),
        (_policy(targets={"P9": {"response": "15m", "resolution": "4h"}}), "targets.P9"),
        (_policy(warn_at=[1.5]), "warn_at"),
        (_policy(warn_at=[0]), "warn_at"),
        (_policy(warn_at=["half"]), "warn_at.0"),
        (_policy(availability={"target": 100}), "availability.target"),
        (_policy(availability={"target": 0}), "availability.target"),
        (
            _policy(availability={"target": 99.9, "down_severities": ["fatal"]}),
            "availability.down_severities.0",
        ),
        (_policy(match={"service": "x", "type": ["bug"]}), "match.type.0"),
        (_policy(match={"servce": "x"}), "match.servce"),
        (_policy(calendar="../etc"), "calendar"),
        (_policy(calendar="nowhere-defined"), "calendar"),
        (
            _policy(availability={"target": 99.9, "calendar": "nowhere-defined"}),
            "availability.calendar",
        ),
        ({"match": {"service": "x"}}, "body"),
        (_policy(pause_statuses="waiting_for_customer"), "pause_statuses"),
    ],
)
def test_bad_policy_is_422_naming_the_field(engine: str, body: dict[str, Any], field: str) -> None:
    name = f"bad-{uuid.uuid4().hex[:8]}"
    answer = problem(call("PUT", f"{engine}/v1/policies/{name}", body), 422)
    assert field in fields(answer), answer
    problem(call("GET", f"{engine}/v1/policies/{name}"), 404)  # nothing half-written


def test_policy_access_needs_the_admin_key_to_change(engine: str) -> None:
    name = f"keys-{uuid.uuid4().hex[:8]}"
    url = f"{engine}/v1/policies/{name}"
    problem(call("PUT", url, _policy(), key=INGEST_KEY), 403)
    problem(call("PUT", url, _policy(), key=None), 401)
    problem(call("GET", url), 404)
    put(engine, "policies", name, _policy())
    problem(call("DELETE", url, key=INGEST_KEY), 403)
    problem(call("GET", f"{engine}/v1/policies", key=None), 401)
    assert call("GET", url, key=INGEST_KEY).status_code == 200
    assert call("DELETE", url).status_code == 204


async def test_the_most_specific_policy_applies(stack: dict[str, ServiceProcess]) -> None:
    """service + customer beats service alone, which beats a catch-all: each ticket's clocks
    run under (and say) the policy that is most specific for it, whatever the names' order."""
    tag = uuid.uuid4().hex[:8]
    engine, ingest = stack["sla_engine"].url, stack["ingest"].url
    svc = f"svc-{tag}"
    # `type: problem` keeps the catch-all away from other tests' incidents while it exists
    policies = {
        f"a-catch-all-{tag}": ({"type": ["problem"]}, "8h"),
        f"b-service-{tag}": ({"service": svc, "type": ["problem"]}, "4h"),
        f"c-service-customer-{tag}": (
            {"service": svc, "customer": "acme", "type": ["problem"]},
            "2h",
        ),
        f"d-customer-only-{tag}": ({"customer": "globex", "type": ["problem"]}, "6h"),
    }
    try:
        for name, (match, resolution) in policies.items():
            put(
                engine,
                "policies",
                name,
                {"match": match, "targets": {"P2": {"response": "1h", "resolution": resolution}}},
            )
        created = local("2026-11-26 09:00", "UTC")
        tickets = {
            f"T-{tag}-acme": (svc, "acme", f"c-service-customer-{tag}", 7_200),
            f"T-{tag}-initech": (svc, "initech", f"b-service-{tag}", 14_400),
            f"T-{tag}-nobody": (svc, None, f"b-service-{tag}", 14_400),
            f"T-{tag}-elsewhere": (f"other-{tag}", "acme", f"a-catch-all-{tag}", 28_800),
            f"T-{tag}-globex": (f"other-{tag}", "globex", f"d-customer-only-{tag}", 21_600),
            f"T-{tag}-globex-svc": (svc, "globex", f"b-service-{tag}", 14_400),
        }
        events = [
            {
                "ticket_id": ticket_id,
                "service": service,
                "type": "problem",
                "priority": "P2",
                "action": "created",
                "occurred_at": iso(created),
                **({"customer": customer} if customer else {}),
            }
            for ticket_id, (service, customer, _, _) in tickets.items()
        ]
        assert post(ingest, "/v1/events/tickets", events).status_code == 202
        for ticket_id, (_, _, policy, target) in tickets.items():
            found = await wait_clocks(engine, ticket_id, lambda c: len(c) == 2)
            assert {c["policy"] for c in found.values()} == {policy}, ticket_id
            assert found["resolution"]["target_seconds"] == target, ticket_id
            assert found["response"]["target_seconds"] == 3_600, ticket_id
    finally:
        for name in policies:
            call("DELETE", f"{engine}/v1/policies/{name}")
