"""Moving over from Alertmanager in one step: `POST /v1/import/alertmanager` turns Debian's
example configuration and a configuration as teams write them into receivers, routes and
inhibit rules, warns about what it cannot carry, and routes every label set where `amtool`
routes it."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.alerting import Alerting, own_alerting
from tests.support.amtool import SIMPLE_EXAMPLE, routes_test

pytestmark = pytest.mark.integration
MIGRATION = Path(__file__).resolve().parents[1] / "fixtures" / "alertmanager" / "migration.yml"
ADMIN = {"Authorization": "Bearer test-admin-key", "Content-Type": "application/yaml"}


@pytest.fixture(scope="module")
async def alerting(
    kafka_bootstrap: str, service_env: dict[str, str], log_dir: Path
) -> AsyncIterator[Alerting]:
    a = await own_alerting(kafka_bootstrap, service_env, log_dir)
    yield a
    await a.close()


def post(alerting: Alerting, body: bytes, **params: str) -> httpx.Response:
    return httpx.post(
        alerting.url + "/v1/import/alertmanager", content=body, headers=ADMIN, params=params
    )


def receivers_for(alerting: Alerting, labels: dict[str, str]) -> list[str]:
    got = alerting.ok("POST", "/v1/routes/test", {"labels": labels})
    return [m["receiver"] for m in got["matches"]]


def test_a_dry_run_shows_the_result_and_changes_nothing(alerting: Alerting) -> None:
    assert SIMPLE_EXAMPLE.exists(), "Debian's prometheus-alertmanager example is needed"
    r = post(alerting, SIMPLE_EXAMPLE.read_bytes(), dry_run="true")
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["receivers"] == [
        "team-DB-pager",
        "team-X-mails",
        "team-X-pager",
        "team-Y-mails",
        "team-Y-pager",
    ]
    assert answer["routes"]["receiver"] == "team-X-mails"
    assert answer["inhibit_rules"]["items"][0]["equal"] == ["alertname", "cluster", "service"]
    assert any(w.startswith("templates") for w in answer["warnings"])
    assert any("service_key" in w for w in answer["warnings"])
    assert "password" not in r.text  # the SMTP password is imported, never echoed
    assert alerting.call("GET", "/v1/routes").status_code == 404
    assert alerting.ok("GET", "/v1/receivers")["items"] == []


def test_debians_example_routes_as_amtool_routes_it(alerting: Alerting) -> None:
    r = post(alerting, SIMPLE_EXAMPLE.read_bytes())
    assert r.status_code == 200, r.text
    pager = alerting.ok("GET", "/v1/receivers/team-X-pager")
    assert [i["type"] for i in pager["integrations"]] == ["email", "pagerduty"]
    assert pager["integrations"][0]["password"] == "<set>"
    assert pager["integrations"][0]["host"] == "localhost"
    values = {
        "service": ["foo1", "baz", "files", "database", "other", None],
        "severity": ["critical", "warning", None],
        "owner": ["team-X", "team-Y", None],
    }
    for combo in itertools.product(*values.values()):
        labels = {k: v for k, v in zip(values, combo, strict=True) if v is not None}
        assert receivers_for(alerting, labels) == routes_test(SIMPLE_EXAMPLE, labels), labels


def test_a_teams_configuration_with_what_cannot_be_carried(alerting: Alerting) -> None:
    r = post(alerting, MIGRATION.read_bytes())
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    warnings = "\n".join(answer["warnings"])
    for expected in (
        "templates",
        "time_intervals",
        "opsgenie_configs",
        "receiver 'opsgenie-only' notifies nobody",
        "mute_time_intervals",
        "'pager + chat' is named 'pager-chat'",
        "title is not carried over",
        "max_alerts",
    ):
        assert expected in warnings, expected
    # the receiver Alertmanager has without configs is not a warning: it notifies nobody there too
    assert "'blackhole' notifies nobody" not in warnings
    assert alerting.ok("GET", "/v1/receivers/opsgenie-only")["integrations"] == []
    chat = alerting.ok("GET", "/v1/receivers/pager-chat")["integrations"]
    assert [i["type"] for i in chat] == ["pagerduty", "slack"]
    assert chat[1]["url"] == "<set>"  # the global slack_api_url, a secret
    mail = alerting.ok("GET", "/v1/receivers/default-mail")
    assert mail["to"] == ["ops@example.org", "oncall@example.org"]
    assert (mail["host"], mail["port"], mail["require_tls"]) == ("smtp.example.org", 587, True)
    hook = alerting.ok("GET", "/v1/receivers/payments-team")["integrations"][0]
    assert hook["url"] == "https://hooks.example.org:443"
    rules = alerting.ok("GET", "/v1/inhibit-rules")["items"]
    assert rules[0]["target_matchers"] == ['severity=~"warning|info"']
    renamed = {"pager + chat": "pager-chat"}
    values = {
        "severity": ["critical", "warning", "info", None],
        "service": ["payments", "checkout", "search", None],
        "env": ["prod", "staging", None],
        "team": ["db", "Payments", None],
    }
    for combo in itertools.product(*values.values()):
        labels = {k: v for k, v in zip(values, combo, strict=True) if v is not None}
        wanted = [renamed.get(n, n) for n in routes_test(MIGRATION, labels)]
        assert receivers_for(alerting, labels) == wanted, labels


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"route: [unclosed", 400, None),
        (b"- just\n- a list\n", 422, "body"),
        (b"receivers: []\n", 422, "route"),
        (b"route: {receiver: ghost}\nreceivers: []\n", 422, "route.receiver"),
        (b"route: {receiver: a}\nreceivers: [{name: a}, {name: a}]\n", 422, "receivers.1.name"),
        (
            b"route: {receiver: a, routes: [{matchers: ['x=~\"a(?=b)\"']}]}\n"
            b"receivers: [{name: a}]\n",
            422,
            "route.routes.0.matchers.0",
        ),
        (b"a: &a [*a]\n", 422, "body"),  # a YAML alias that contains itself
    ],
)
def test_what_is_no_alertmanager_configuration_is_a_4xx(
    alerting: Alerting, body: bytes, status: int, field: str | None
) -> None:
    r = post(alerting, body, dry_run="true")
    assert r.status_code == status, r.text
    if field is not None:
        assert field in [e["field"] for e in r.json()["errors"]]
