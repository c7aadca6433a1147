"""End to end: bad input to the sla-engine answers a 4xx naming the field, never a 500 (NUL
characters, years before 1000, epoch numbers), and a maintenance window id names one window."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.client import iso
from tests.support.processes import ServiceProcess
from tests.support.sla_api import call

pytestmark = pytest.mark.e2e


def fields(r: object) -> list[str]:
    body = r.json()  # type: ignore[attr-defined]
    return [e["field"] for e in body.get("errors", [])]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "match": {"service": "a\x00b"},
                "targets": {"P1": {"response": "1h", "resolution": "4h"}},
            },
            "match.service",
        ),
        (
            {
                "pause_statuses": ["wait\x00"],
                "targets": {"P1": {"response": "1h", "resolution": "4h"}},
            },
            "pause_statuses.0",
        ),
    ],
)
def test_nul_in_a_policy_is_422(
    stack: dict[str, ServiceProcess], body: dict[str, object], field: str
) -> None:
    r = call("PUT", f"{stack['sla_engine'].url}/v1/policies/nul-{uuid.uuid4().hex[:6]}", body)
    assert r.status_code == 422, r.text
    assert field in fields(r)


def window(**over: object) -> dict[str, object]:
    now = datetime.now(UTC)
    body: dict[str, object] = {
        "service": "checkout",
        "starts_at": iso(now - timedelta(hours=2)),
        "ends_at": iso(now - timedelta(hours=1)),
        "reason": "patching",
    }
    return {**body, **over}


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"service": "check\x00out"}, "service"),
        ({"reason": "pat\x00ching"}, "reason"),
        ({"id": "mw\x00"}, "id"),
        ({"starts_at": "0151-08-01T00:00:00Z"}, "starts_at"),
        ({"starts_at": 1764547200}, "starts_at"),  # epoch numbers: RFC 3339 like every timestamp
        ({"ends_at": "2026-12-01T10:00:00"}, "ends_at"),
    ],
)
def test_bad_maintenance_windows_are_422_naming_the_field(
    stack: dict[str, ServiceProcess], over: dict[str, object], field: str
) -> None:
    r = call("POST", f"{stack['sla_engine'].url}/v1/maintenance-windows", window(**over))
    assert r.status_code == 422, r.text
    assert field in fields(r)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/clocks", {"ticket_id": "T\x00"}, "query.ticket_id"),
        ("/v1/clocks", {"service": "s\x00"}, "query.service"),
        ("/v1/maintenance-windows", {"service": "s\x00"}, "query.service"),
        ("/v1/services/a%00b/availability", {}, "path.service"),
        ("/v1/services/checkout/availability", {"month": "2999-01"}, "month"),
    ],
)
def test_bad_queries_and_paths_are_422(
    stack: dict[str, ServiceProcess], path: str, params: dict[str, str], field: str
) -> None:
    r = call("GET", f"{stack['sla_engine'].url}{path}", params=params)
    assert r.status_code == 422, r.text
    assert field in fields(r)


def test_a_window_id_names_one_window(stack: dict[str, ServiceProcess]) -> None:
    url = f"{stack['sla_engine'].url}/v1/maintenance-windows"
    body = window(id=f"mw-{uuid.uuid4().hex[:8]}", service=f"svc-{uuid.uuid4().hex[:6]}")
    first = call("POST", url, body)
    assert first.status_code == 201, first.text
    again = call("POST", url, body)
    assert again.status_code == 200  # a retry: idempotent
    assert again.json() == first.json()
    other = call("POST", url, {**body, "service": "elsewhere", "reason": "other"})
    assert other.status_code == 409
    assert fields(other) == ["id"]
    stored = call("GET", url, params={"service": body["service"]}).json()["items"]
    assert [(w["id"], w["reason"]) for w in stored] == [(body["id"], "patching")]
    assert call("GET", url, params={"service": "elsewhere"}).json()["items"] == []
