"""On-call users and schedules over real HTTP: round trips, who is on call at an instant and
the shifts of a range, and a 4xx naming the field for every kind of bad input."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.support.alerting import Alerting, WebhookCollector, own_alerting
from tests.support.processes import wait_for

pytestmark = pytest.mark.integration
READER = {"Authorization": "Bearer test-ingest-key"}
START = "2026-03-23T09:00:00+01:00"


@pytest.fixture(scope="module")
def hook() -> Iterator[WebhookCollector]:
    c = WebhookCollector()
    yield c
    c.close()


@pytest.fixture(scope="module")
async def alerting(
    kafka_bootstrap: str, service_env: dict[str, str], log_dir: Path, hook: WebhookCollector
) -> AsyncIterator[Alerting]:
    a = await own_alerting(kafka_bootstrap, service_env, log_dir)
    for name in ("alice", "bob", "carol"):
        a.webhook(f"{name}-hook", hook, f"/{name}")
        a.ok("PUT", f"/v1/users/{name}", {"receivers": [f"{name}-hook"]})
    yield a
    await a.close()


def fields(r: httpx.Response) -> list[str]:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return [e["field"] for e in r.json().get("errors", [])]


def weekly(**extra: Any) -> dict[str, Any]:
    rotation = {"name": "primary", "users": ["alice", "bob"], "start": START, "shift": "1w"}
    return {"timezone": "Europe/Berlin", "rotations": [rotation], **extra}


def test_users_round_trip_and_need_defined_receivers(alerting: Alerting) -> None:
    assert alerting.ok("GET", "/v1/users/alice") == {"name": "alice", "receivers": ["alice-hook"]}
    names = [u["name"] for u in alerting.ok("GET", "/v1/users")["items"]]
    assert {"alice", "bob", "carol"} <= set(names)
    r = alerting.call("PUT", "/v1/users/dave", {"receivers": ["alice-hook", "ghost"]})
    assert r.status_code == 422
    assert fields(r) == ["receivers.1"]
    assert alerting.call("PUT", "/v1/users/dave", {"receivers": []}).status_code == 422
    assert alerting.call("GET", "/v1/users/dave").status_code == 404
    # a receiver a user names cannot go
    assert alerting.call("DELETE", "/v1/receivers/alice-hook").status_code == 409


def test_schedules_round_trip_and_answer_who_is_on_call(alerting: Alerting) -> None:
    override = {
        "user": "carol",
        "starts_at": "2026-03-25T10:00:00Z",
        "ends_at": "2026-03-25T14:00:00Z",
    }
    r = alerting.call("PUT", "/v1/schedules/team", weekly(overrides=[override]))
    assert r.status_code == 201, r.text
    assert alerting.ok("GET", "/v1/schedules/team")["timezone"] == "Europe/Berlin"
    assert [s["name"] for s in alerting.ok("GET", "/v1/schedules")["items"]] == ["team"]
    # across the spring DST change the hand-off stays at 09:00 local (07:00Z in summer time)
    before = alerting.call(
        "GET", "/v1/schedules/team/on-call", params={"at": "2026-03-30T06:59:00Z"}, headers=READER
    )
    assert before.status_code == 200
    assert before.json()["users"] == ["alice"]
    after = alerting.ok("GET", "/v1/schedules/team/on-call?at=2026-03-30T07:00:00Z")
    assert after == {
        "users": ["bob"],
        "shifts": [
            {
                "rotation": "primary",
                "user": "bob",
                "starts_at": "2026-03-30T07:00:00.000Z",
                "ends_at": "2026-04-06T07:00:00.000Z",
            }
        ],
    }
    assert alerting.ok("GET", "/v1/schedules/team/on-call?at=2026-03-25T11:00:00Z")["users"] == [
        "carol"
    ]
    week = alerting.ok(
        "GET", "/v1/schedules/team/shifts?from=2026-03-24T00:00:00Z&to=2026-03-31T00:00:00Z"
    )["items"]
    assert [(s["user"], s["starts_at"]) for s in week] == [
        ("alice", "2026-03-23T08:00:00.000Z"),
        ("carol", "2026-03-25T10:00:00.000Z"),
        ("alice", "2026-03-25T14:00:00.000Z"),
        ("bob", "2026-03-30T07:00:00.000Z"),
    ]
    assert alerting.ok("GET", "/v1/schedules/team/on-call")["users"] in (["alice"], ["bob"])
    # a user the schedule names cannot go; once the schedule is gone, they can
    assert alerting.call("DELETE", "/v1/users/carol").status_code == 409
    assert alerting.call("DELETE", "/v1/schedules/team").status_code == 204
    assert alerting.call("GET", "/v1/schedules/team").status_code == 404
    assert alerting.call("DELETE", "/v1/users/carol").status_code == 204
    alerting.ok("PUT", "/v1/users/carol", {"receivers": ["carol-hook"]})


def rotation(**change: Any) -> dict[str, Any]:
    r = {"name": "primary", "users": ["alice"], "start": START, "shift": "1w", **change}
    return {"timezone": "Europe/Berlin", "rotations": [r]}


def override(start: str, end: str, user: str = "carol") -> dict[str, str]:
    return {"user": user, "starts_at": start, "ends_at": end}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**weekly(), "timezone": "Europe/Atlantis"}, "timezone"),
        ({**weekly(), "timezone": "../../etc/passwd"}, "timezone"),
        (rotation(users=["alice", "zed"]), "rotations.0.users.1"),
        (rotation(active="no-such-calendar"), "rotations.0.active"),
        (rotation(shift="0s"), "rotations.0.shift"),
        (rotation(shift="-1d"), "rotations.0.shift"),
        (rotation(shift="soon"), "rotations.0.shift"),
        (rotation(start="2026-03-23T09:00:00"), "rotations.0.start"),
        (rotation(start="0001-01-01T00:00:00+01:00"), "rotations.0.start"),
        ({**weekly(), "rotations": []}, "rotations"),
        (
            weekly(overrides=[override("2026-03-25T14:00:00Z", "2026-03-25T10:00:00Z")]),
            "overrides.0.ends_at",
        ),
        (
            weekly(overrides=[override("2026-03-25T10:00:00Z", "2026-03-25T10:00:00Z")]),
            "overrides.0.ends_at",
        ),
        (
            weekly(
                overrides=[
                    override("2026-03-25T10:00:00Z", "2026-03-25T14:00:00Z"),
                    override("2026-03-25T13:00:00Z", "2026-03-25T15:00:00Z", "bob"),
                ]
            ),
            "overrides.1",
        ),
        (
            weekly(overrides=[override("2026-03-25T10:00:00Z", "2026-03-25T14:00:00Z", "zed")]),
            "overrides.0.user",
        ),
    ],
)
def test_bad_schedules_are_refused_naming_the_field(
    alerting: Alerting, body: dict[str, Any], field: str
) -> None:
    r = alerting.call("PUT", "/v1/schedules/bad", body)
    assert r.status_code == 422, r.text
    assert field in fields(r)


def test_shift_ranges_are_bounded_and_instants_checked(alerting: Alerting) -> None:
    alerting.ok("PUT", "/v1/schedules/ranges", weekly())
    base = "/v1/schedules/ranges/shifts"
    year = alerting.call(
        "GET", base, params={"from": "2026-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"}
    )
    assert year.status_code == 200
    assert len(year.json()["items"]) == 41  # the weeks from 23 March on
    beyond = alerting.call(
        "GET", base, params={"from": "2026-01-01T00:00:00Z", "to": "2027-01-03T00:00:00Z"}
    )
    assert beyond.status_code == 422
    assert fields(beyond) == ["to"]
    backwards = alerting.call(
        "GET", base, params={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    )
    assert fields(backwards) == ["to"]
    bad_at = alerting.call("GET", "/v1/schedules/ranges/on-call", params={"at": "yesterday"})
    assert bad_at.status_code == 422
    assert fields(bad_at) == ["at"]
    far = alerting.call(
        "GET", "/v1/schedules/ranges/on-call", params={"at": "9999-12-31T23:59:59Z"}
    )
    assert far.status_code == 422
    assert fields(far) == ["at"]
    assert alerting.call("GET", "/v1/schedules/nope/on-call").status_code == 404


def test_escalation_steps_name_schedules_that_exist(alerting: Alerting) -> None:
    alerting.ok("PUT", "/v1/schedules/pager", weekly())
    ghost = alerting.call("PUT", "/v1/escalation-policies/p", {"steps": [{"schedules": ["ghost"]}]})
    assert ghost.status_code == 422
    assert fields(ghost) == ["steps.0.schedules.0"]
    body = {"steps": [{"after": "0s", "schedules": ["pager"]}]}
    assert alerting.ok("PUT", "/v1/escalation-policies/p", body)["steps"][0]["schedules"] == [
        "pager"
    ]
    assert alerting.call("DELETE", "/v1/schedules/pager").status_code == 409


def test_reading_needs_a_key_and_writing_the_admin_role(alerting: Alerting) -> None:
    assert alerting.call("GET", "/v1/schedules", headers={}).status_code == 401
    assert alerting.call("GET", "/v1/users", headers=READER).status_code == 200
    r = alerting.call("PUT", "/v1/users/eve", {"receivers": ["alice-hook"]}, headers=READER)
    assert r.status_code == 403
    assert alerting.call("PUT", "/v1/schedules/x", weekly(), headers=READER).status_code == 403


async def test_a_step_that_reaches_someone_does_not_jump_ahead(
    alerting: Alerting, hook: WebhookCollector
) -> None:
    """A step with receivers of its own and an empty schedule: the history says nobody was on
    call there, and the next step keeps its time (the whole step runs in one transaction, so
    had it jumped, the page would be in the history with the receiver's)."""
    spare = {**weekly()["rotations"][0], "start": "2099-01-05T09:00:00+01:00"}
    alerting.ok("PUT", "/v1/schedules/nights", {"timezone": "Europe/Berlin", "rotations": [spare]})
    alerting.ok("PUT", "/v1/schedules/days", weekly())
    policy = {
        "steps": [
            {"after": "0s", "receivers": ["carol-hook"], "schedules": ["nights"]},
            {"after": "10m", "schedules": ["days"]},
        ]
    }
    alerting.ok("PUT", "/v1/escalation-policies/nightly", policy)
    alerting.ok("PUT", "/v1/routes", {"receiver": "bob-hook", "group_wait": "1h",
        "routes": [{"matchers": ['service="jumpy"'], "escalation": "nightly"}]})  # fmt: skip
    await alerting.signal(kind="breach", service="jumpy", ticket_id="J-1")
    wait_for("carol's page", lambda: [r for r in hook.accepted("/carol") if "J-1" in str(r.body)])
    [alert] = [a for a in alerting.alerts() if a.get("ticket_id") == "J-1"]
    events = [h["event"] for h in alert["history"]]
    assert "nobody on call" in events
    assert "paged" not in events
    assert [h["schedule"] for h in alert["history"] if h["event"] == "nobody on call"] == ["nights"]


async def test_another_instance_s_change_is_picked_up(alerting: Alerting) -> None:
    """A schedule and a user written by another instance (straight into the tables here)
    bump the configuration's generation and reach this instance's memory."""
    conn = await asyncpg.connect(alerting.database_url)
    try:
        await conn.execute(
            "INSERT INTO alerting.oncall_users (name, receivers) VALUES ('zoe', $1::jsonb)",
            '["alice-hook"]',
        )
        body = {**weekly(), "rotations": [{**weekly()["rotations"][0], "users": ["zoe"]}]}
        await conn.execute(
            "INSERT INTO alerting.schedules (name, body) VALUES ('elsewhere', $1::jsonb)",
            json.dumps(body),
        )
    finally:
        await conn.close()

    def seen() -> Any:
        r = alerting.call("GET", "/v1/schedules/elsewhere/on-call", params={"at": START})
        return r.json() if r.status_code == 200 else None

    assert wait_for("the refresh", seen, 20)["users"] == ["zoe"]
    assert alerting.ok("GET", "/v1/users/zoe")["receivers"] == ["alice-hook"]
