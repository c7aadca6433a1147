"""Alerting's API at the edges an on-call engineer, an Alertmanager user and an attacker try:
silences that would mute everything, receivers whose secrets must not follow a new
destination, several integrations under one name, and no coercion of wrong types."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.alerting import Alerting, WebhookCollector, own_alerting
from tests.support.processes import wait_for

pytestmark = pytest.mark.integration


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
    a.webhook("oncall", hook, "/oncall")
    yield a
    await a.close()


def fields(r: httpx.Response) -> list[str]:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return [e["field"] for e in r.json().get("errors", [])]


def later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


# ---- silences -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "matchers",
    [['team=""'], ['team=~".*"'], ['team=""', 'env=~"|prod"'], ["{}"]],
)
def test_a_silence_whose_matchers_all_match_the_empty_string_is_refused(
    alerting: Alerting, matchers: list[str]
) -> None:
    r = alerting.call("POST", "/v1/silences", {"matchers": matchers, "ends_at": later(hours=1)})
    assert r.status_code == 422, r.text
    assert "matchers" in fields(r)


@pytest.mark.parametrize("matchers", [['team=""', "service=checkout"], ["team!=x"]])
def test_a_silence_with_one_matcher_that_needs_a_value_is_taken(
    alerting: Alerting, matchers: list[str]
) -> None:
    # a negative matcher counts as needing a value, as in Alertmanager (its own oracle test
    # in tests/unit/alerting/test_alertmanager_oracle.py checks the rule against it)
    body = {"matchers": matchers, "ends_at": later(hours=1)}
    r = alerting.call("POST", "/v1/silences", body)
    assert r.status_code == 201, r.text
    # it would mute the alerts of the tests below
    assert alerting.call("DELETE", f"/v1/silences/{r.json()['id']}").status_code == 204


def test_a_silence_that_has_already_ended_is_refused(alerting: Alerting) -> None:
    body = {
        "matchers": ["service=checkout"],
        "starts_at": later(hours=-2),
        "ends_at": later(hours=-1),
    }
    r = alerting.call("POST", "/v1/silences", body)
    assert r.status_code == 422, r.text
    assert "ends_at" in fields(r)


def test_deleting_a_silence_that_has_not_started_removes_it(alerting: Alerting) -> None:
    body = {"matchers": ["service=pending"], "starts_at": later(hours=1), "ends_at": later(hours=2)}
    made = alerting.ok("POST", "/v1/silences", body)
    assert made["state"] == "pending"
    assert alerting.call("DELETE", f"/v1/silences/{made['id']}").status_code == 204
    assert alerting.call("GET", f"/v1/silences/{made['id']}").status_code == 404
    assert made["id"] not in [s["id"] for s in alerting.ok("GET", "/v1/silences")["items"]]
    assert alerting.call("DELETE", f"/v1/silences/{made['id']}").status_code == 404


def test_silences_filter_by_state_and_refuse_an_unknown_one(alerting: Alerting) -> None:
    active = alerting.ok(
        "POST", "/v1/silences", {"matchers": ["service=filtered"], "ends_at": later(hours=1)}
    )
    pending = alerting.ok(
        "POST",
        "/v1/silences",
        {"matchers": ["service=filtered"], "starts_at": later(hours=1), "ends_at": later(hours=2)},
    )
    got = alerting.call("GET", "/v1/silences", params={"state": "active"})
    assert got.status_code == 200, got.text
    ids = [s["id"] for s in got.json()["items"]]
    assert active["id"] in ids
    assert pending["id"] not in ids
    assert {s["state"] for s in got.json()["items"]} == {"active"}
    bogus = alerting.call("GET", "/v1/silences", params={"state": "bogus"})
    assert bogus.status_code == 422, bogus.text


@pytest.mark.parametrize(
    "matcher",
    ['a=~"x(?=y)"', 'a=~"(x)\\\\1"', '{"a"=~"\\xf0\\x9f"}'],
)
def test_regexes_re2_refuses_are_a_422_everywhere(alerting: Alerting, matcher: str) -> None:
    r = alerting.call("POST", "/v1/silences", {"matchers": [matcher], "ends_at": later(hours=1)})
    assert r.status_code == 422, r.text
    assert "matchers.0" in fields(r)
    tree = {"receiver": "oncall", "routes": [{"matchers": [matcher]}]}
    assert alerting.call("PUT", "/v1/routes", tree).status_code == 422
    rules = {"items": [{"source_matchers": [matcher], "target_matchers": ["a=b"]}]}
    assert alerting.call("PUT", "/v1/inhibit-rules", rules).status_code == 422


def test_re2_idioms_are_taken(alerting: Alerting) -> None:
    tree = {
        "receiver": "oncall",
        "routes": [{"matchers": ['severity=~"(?i)critical"', 'name=~"[[:alpha:]]+"']}],
    }
    got = alerting.ok(
        "POST",
        "/v1/routes/test",
        {"labels": {"severity": "CRITICAL", "name": "x"}, "routes": tree},
    )
    assert [m["path"] for m in got["matches"]] == [[0]]


# ---- bodies of the wrong type -------------------------------------------------------------


def test_repeat_is_not_coerced_from_a_string(alerting: Alerting) -> None:
    body = {"steps": [{"after": "0s", "receivers": ["oncall"]}], "repeat": "1"}
    r = alerting.call("PUT", "/v1/escalation-policies/strict", body)
    assert r.status_code == 422, r.text
    assert "repeat" in fields(r)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/v1/routes"),
        ("PUT", "/v1/receivers/x"),
        ("POST", "/v1/silences"),
        ("PUT", "/v1/inhibit-rules"),
        ("PUT", "/v1/escalation-policies/x"),
        ("POST", "/v1/routes/test"),
    ],
)
def test_a_json_null_body_is_a_clear_422(alerting: Alerting, method: str, path: str) -> None:
    r = httpx.request(
        method,
        alerting.url + path,
        content=b"null",
        headers={"Authorization": "Bearer test-admin-key", "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "body", "message": "must be a JSON object"}]


# ---- receivers: secrets stay with their destination ---------------------------------------


def test_a_webhook_url_is_shown_as_scheme_host_and_port_only(alerting: Alerting) -> None:
    body = {"type": "webhook", "url": "http://u:pw@hooks.example:8080/h?token=abc", "secret": "s"}
    alerting.ok("PUT", "/v1/receivers/tokened", body)
    shown = alerting.ok("GET", "/v1/receivers/tokened")
    assert shown["url"] == "http://hooks.example:8080"
    assert shown["secret"] == "<set>"
    listed = str(alerting.ok("GET", "/v1/receivers"))
    assert "token=abc" not in listed
    assert "pw" not in listed
    # what GET showed, put back, keeps the stored URL and secret (the destination is the same)
    again = alerting.call(
        "PUT", "/v1/receivers/tokened", {k: v for k, v in shown.items() if k != "name"}
    )
    assert again.status_code == 200, again.text
    assert again.json()["url"] == "http://hooks.example:8080"


def test_re_pointing_a_receiver_needs_the_secret_again(alerting: Alerting) -> None:
    alerting.ok(
        "PUT",
        "/v1/receivers/moving",
        {"type": "webhook", "url": "http://a.example/h", "secret": "s"},
    )
    moved = {"type": "webhook", "url": "http://attacker.example/h", "secret": "<set>"}
    r = alerting.call("PUT", "/v1/receivers/moving", moved)
    assert r.status_code == 422, r.text
    assert fields(r) == ["secret"]
    # given anew, it is taken
    assert (
        alerting.call("PUT", "/v1/receivers/moving", {**moved, "secret": "new"}).status_code == 200
    )


def test_re_pointing_an_email_receiver_needs_the_password_again(alerting: Alerting) -> None:
    mail = {
        "type": "email",
        "host": "smtp.example",
        "port": 587,
        "from": "pacta@example.com",
        "to": ["oncall@example.com"],
        "username": "pacta",
        "password": "hunter2",
    }
    alerting.ok("PUT", "/v1/receivers/mail", mail)
    shown = {k: v for k, v in alerting.ok("GET", "/v1/receivers/mail").items() if k != "name"}
    assert shown["password"] == "<set>"
    assert alerting.call("PUT", "/v1/receivers/mail", shown).status_code == 200
    for change in ({"host": "evil.example"}, {"port": 2525}):
        r = alerting.call("PUT", "/v1/receivers/mail", {**shown, **change})
        assert r.status_code == 422, r.text
        assert fields(r) == ["password"]


def test_a_secret_shown_as_set_with_nothing_stored_is_refused(alerting: Alerting) -> None:
    r = alerting.call(
        "PUT",
        "/v1/receivers/fresh",
        {"type": "webhook", "url": "http://x.example/", "secret": "<set>"},
    )
    assert r.status_code == 422, r.text
    assert fields(r) == ["secret"]
    changed_type = {"type": "slack", "url": "<set>"}
    r = alerting.call("PUT", "/v1/receivers/oncall", changed_type)
    assert r.status_code == 422, r.text
    assert fields(r) == ["url"]


@pytest.mark.parametrize(
    "url", ["http://x.example/h\nX-Injected: 1", "http://x.example/h\r", "http://x.example/\th"]
)
def test_a_webhook_url_with_a_line_break_is_refused(alerting: Alerting, url: str) -> None:
    r = alerting.call("PUT", "/v1/receivers/broken", {"type": "webhook", "url": url})
    assert r.status_code == 422, r.text
    assert fields(r) == ["url"]


def test_a_receiver_with_several_integrations(alerting: Alerting, hook: WebhookCollector) -> None:
    body: dict[str, Any] = {
        "integrations": [
            {"type": "webhook", "url": hook.url("/one"), "secret": "s1"},
            {"type": "slack", "url": hook.url("/slack")},
        ]
    }
    r = alerting.call("PUT", "/v1/receivers/team", body)
    assert r.status_code == 201, r.text
    shown = alerting.ok("GET", "/v1/receivers/team")
    assert [i["type"] for i in shown["integrations"]] == ["webhook", "slack"]
    assert shown["integrations"][0]["secret"] == "<set>"
    assert shown["integrations"][1]["url"] == "<set>"
    # read back and put again: the secrets stay
    again = alerting.call("PUT", "/v1/receivers/team", {"integrations": shown["integrations"]})
    assert again.status_code == 200, again.text
    # an integration re-pointed without its secret is refused, naming it
    moved = [
        dict(shown["integrations"][0], url="http://elsewhere.example/"),
        shown["integrations"][1],
    ]
    r = alerting.call("PUT", "/v1/receivers/team", {"integrations": moved})
    assert r.status_code == 422, r.text
    assert fields(r) == ["integrations.0.secret"]
    bad = alerting.call("PUT", "/v1/receivers/team", {"integrations": [{"type": "pigeon"}]})
    assert bad.status_code == 422, bad.text
    # none: a receiver that notifies nobody (as an Alertmanager receiver without configs)
    assert alerting.call("PUT", "/v1/receivers/team", {"integrations": []}).status_code == 200


# ---- PagerDuty hears of an ack at once ----------------------------------------------------


async def test_pagerduty_is_told_of_an_ack_at_once(
    alerting: Alerting, hook: WebhookCollector
) -> None:
    alerting.ok(
        "PUT",
        "/v1/receivers/pd",
        {"type": "pagerduty", "routing_key": "R0UT1NG", "url": hook.url("/pd")},
    )
    alerting.ok(
        "PUT",
        "/v1/receivers/pd-and-hook",
        {
            "integrations": [
                {"type": "pagerduty", "routing_key": "K2", "url": hook.url("/pd2")},
                {"type": "webhook", "url": hook.url("/beside"), "secret": "whsec_test"},
            ]
        },
    )
    alerting.ok(
        "PUT",
        "/v1/routes",
        {
            "receiver": "oncall",
            "group_wait": "0s",
            "repeat_interval": "24h",
            "routes": [
                {"matchers": ["ticket_id=PD-1"], "receiver": "pd"},
                {"matchers": ["ticket_id=PD-2"], "receiver": "pd-and-hook"},
            ],
        },
    )
    await alerting.signal(kind="breach", ticket_id="PD-1", service="paging")
    await alerting.signal(kind="breach", ticket_id="PD-2", service="paging")

    def actions(path: str) -> list[str]:
        return [r.body["event_action"] for r in hook.accepted(path)]

    def acknowledged(path: str) -> Callable[[], bool]:
        return lambda: actions(path) == ["trigger", "acknowledge"]

    wait_for("the triggers", lambda: actions("/pd") == ["trigger"] and actions("/pd2"), 20)
    for ticket, path in (("PD-1", "/pd"), ("PD-2", "/pd2")):
        [alert] = [a for a in alerting.alerts() if a["ticket_id"] == ticket]
        assert alerting.call("POST", f"/v1/alerts/{alert['id']}/ack").status_code == 200
        wait_for(f"the acknowledge on {path}", acknowledged(path), 10)
        dedup = [r.body["dedup_key"] for r in hook.accepted(path)]
        assert dedup[0] == dedup[1]
