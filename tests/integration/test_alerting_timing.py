"""Alerting's timing against real Kafka, PostgreSQL and HTTP: group_wait, group_interval and
repeat_interval inside time windows; silences (and expire_on_resolve); inhibition; escalation
stopped by an ack; a route muted out of hours by a business calendar from the calendars topic."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.alerting import Alerting, WebhookCollector, running_alerting, wait_count
from tests.support.processes import wait_for

pytestmark = pytest.mark.integration
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def off_hours_calendar(name: str) -> dict[str, Any]:
    """Working half an hour a day, six hours from now: out of hours for the whole test."""
    start = (datetime.now(UTC) + timedelta(hours=6)).hour
    return {
        "name": name,
        "timezone": "UTC",
        "hours": {d: [f"{start:02d}:00-{start:02d}:30"] for d in DAYS},
    }


@pytest.fixture(scope="module")
async def alerting(
    kafka_bootstrap: str, service_env: dict[str, str], log_dir: Path, hook: WebhookCollector
) -> AsyncIterator[Alerting]:
    async with running_alerting(kafka_bootstrap, service_env, log_dir) as a:
        for name in ("main", "esc1", "esc2", "cal"):
            a.webhook(name, hook, f"/{name}")
        a.ok(
            "PUT",
            "/v1/escalation-policies/page",
            {
                "steps": [
                    {"after": "0s", "receivers": ["esc1"]},
                    {"after": "2s", "receivers": ["esc2"]},
                ]
            },
        )
        await a.calendar(off_hours_calendar("night-shift"))
        tree = {
            "receiver": "main",
            "group_by": ["..."],
            "group_wait": "0s",
            "group_interval": "1s",
            "routes": [
                {
                    "matchers": ["service=grp"],
                    "group_by": ["service"],
                    "group_wait": "2s",
                    "group_interval": "2s",
                    "repeat_interval": "4s",
                },
                {
                    "matchers": ["service=esc"],
                    "escalation": "page",
                    "receiver": "esc1",
                    "group_wait": "1h",
                },
                {
                    "matchers": ["service=esc-late", "kind=breach"],
                    "escalation": "page",
                    "receiver": "esc1",
                    "group_wait": "1h",
                },
                {
                    "matchers": ["service=cal"],
                    "receiver": "cal",
                    "active_time_intervals": ["night-shift"],
                },
                {
                    "matchers": ["service=always-muted"],
                    "receiver": "cal",
                    "mute_time_intervals": ["24x7"],
                },
            ],
        }
        # the calendar arrives through Kafka: the tree is refused until it is known
        wait_for("the calendar", lambda: a.call("PUT", "/v1/routes", tree).status_code == 200, 20)
        a.ok(
            "PUT",
            "/v1/inhibit-rules",
            {
                "items": [
                    {
                        "source_matchers": ["kind=availability_breach"],
                        "target_matchers": ["kind=warning"],
                        "equal": ["service"],
                    }
                ]
            },
        )
        yield a


def bodies(hook: WebhookCollector, path: str, service: str) -> list[Any]:
    return [r for r in hook.accepted(path) if r.body["alerts"][0]["service"] == service]


async def marker(alerting: Alerting, hook: WebhookCollector, tag: str) -> None:
    """A signal routed to /main: once it arrives, whatever was sent before it has arrived."""
    await alerting.signal(kind="breach", service=f"marker-{tag}", ticket_id=tag)
    wait_for(f"marker {tag}", lambda: bodies(hook, "/main", f"marker-{tag}"), 15)


async def test_group_wait_interval_and_repeat(alerting: Alerting, hook: WebhookCollector) -> None:
    t0 = time.time()
    await alerting.signals(
        [{"kind": "breach", "service": "grp", "ticket_id": f"G-{i}"} for i in range(3)]
    )
    [first] = wait_count("the first flush", lambda: bodies(hook, "/main", "grp"), 1, 10)
    assert 1.8 <= first.at - t0 <= 3.5
    assert sorted(a["ticket_id"] for a in first.body["alerts"]) == ["G-0", "G-1", "G-2"]
    await alerting.signal(kind="breach", service="grp", ticket_id="G-3")
    second = wait_count("the next tick", lambda: bodies(hook, "/main", "grp"), 2, 10)[1]
    # the late one waited for the group's next tick, not a group_wait of its own
    assert 1.5 <= second.at - first.at <= 3.0
    assert len(second.body["alerts"]) == 4
    third = wait_count("the repeat", lambda: bodies(hook, "/main", "grp"), 3, 15)[2]
    assert 3.5 <= third.at - second.at <= 6.5
    assert len(third.body["alerts"]) == 4
    assert len({r.headers["Idempotency-Key"] for r in (first, second, third)}) == 3


async def test_silenced_alerts_are_recorded_and_sent_when_the_silence_ends(
    alerting: Alerting, hook: WebhookCollector
) -> None:
    silence = alerting.ok(
        "POST",
        "/v1/silences",
        {"matchers": ["service=sil"], "ends_at": "2099-01-01T00:00:00Z", "comment": "deploy"},
    )
    await alerting.signal(kind="breach", service="sil", ticket_id="S-1")
    wait_for(
        "silenced",
        lambda: [a for a in alerting.alerts(state="silenced") if a["ticket_id"] == "S-1"],
    )
    await marker(alerting, hook, "sil")
    assert bodies(hook, "/main", "sil") == []
    assert alerting.call("DELETE", f"/v1/silences/{silence['id']}").status_code == 204
    [sent] = wait_for("sent once the silence ends", lambda: bodies(hook, "/main", "sil"), 10)
    assert sent.body["alerts"][0]["ticket_id"] == "S-1"


async def test_expire_on_resolve(alerting: Alerting, hook: WebhookCollector) -> None:
    silence = alerting.ok(
        "POST",
        "/v1/silences",
        {
            "matchers": ["ticket_id=E-1"],
            "ends_at": "2099-01-01T00:00:00Z",
            "expire_on_resolve": True,
        },
    )
    await alerting.signal(kind="breach", service="eor", ticket_id="E-1")
    wait_for(
        "matched", lambda: alerting.ok("GET", f"/v1/silences/{silence['id']}")["matched_alerts"]
    )
    await alerting.signal(kind="met", service="eor", ticket_id="E-1")
    wait_for(
        "expired",
        lambda: alerting.ok("GET", f"/v1/silences/{silence['id']}")["state"] == "expired",
        10,
    )
    await marker(alerting, hook, "eor")
    assert bodies(hook, "/main", "eor") == []


async def test_an_availability_breach_inhibits_the_services_warnings(
    alerting: Alerting, hook: WebhookCollector
) -> None:
    await alerting.signal(kind="availability_breach", service="inh", metric="availability")
    wait_for("the source", lambda: bodies(hook, "/main", "inh"), 10)
    await alerting.signal(kind="warning", service="inh", ticket_id="I-1", threshold=0.5)
    await alerting.signal(kind="warning", service="other-inh", ticket_id="I-2", threshold=0.5)
    wait_for("the other service's warning", lambda: bodies(hook, "/main", "other-inh"), 10)
    wait_for(
        "inhibited",
        lambda: [a for a in alerting.alerts(state="inhibited") if a["ticket_id"] == "I-1"],
    )
    await marker(alerting, hook, "inh")
    assert [a["kind"] for r in bodies(hook, "/main", "inh") for a in r.body["alerts"]] == [
        "availability_breach"
    ]


async def test_escalation_steps_and_ack(alerting: Alerting, hook: WebhookCollector) -> None:
    await alerting.signal(kind="breach", service="esc", ticket_id="ACKED")
    [first] = wait_for(
        "step 0 of ACKED",
        lambda: [a for a in hook.alerts("/esc1") if a["ticket_id"] == "ACKED"],
        10,
    )
    acked = alerting.ok("POST", f"/v1/alerts/{first['alert_id']}/ack")
    assert acked["state"] == "acknowledged"
    t0 = time.time()
    await alerting.signal(kind="breach", service="esc", ticket_id="OPEN")
    wait_for(
        "step 0 of OPEN", lambda: [a for a in hook.alerts("/esc1") if a["ticket_id"] == "OPEN"], 10
    )
    [(at, _)] = wait_for(
        "step 1 of OPEN",
        lambda: [
            (r.at, a)
            for r in hook.accepted("/esc2")
            for a in r.body["alerts"]
            if a["ticket_id"] == "OPEN"
        ],
        10,
    )
    assert 1.5 <= at - t0 <= 4.0
    # ACKED was acknowledged before its second step: it never got there
    assert [a for a in hook.alerts("/esc2") if a["ticket_id"] == "ACKED"] == []
    # the resolve reaches every receiver the escalation reached
    await alerting.signal(kind="met", service="esc", ticket_id="OPEN")
    for path in ("/esc1", "/esc2"):
        wait_for(
            f"resolve at {path}",
            lambda p=path: [
                r
                for r in hook.accepted(p)
                if r.body["status"] == "resolved" and r.body["alerts"][0]["ticket_id"] == "OPEN"
            ],
            10,
        )


async def test_a_warning_that_becomes_a_breach_enters_the_breach_escalation(
    alerting: Alerting, hook: WebhookCollector
) -> None:
    await alerting.signal(kind="warning", service="esc-late", ticket_id="LATE", threshold=0.5)
    wait_for("the warning", lambda: bodies(hook, "/main", "esc-late"), 10)
    assert [a for a in hook.alerts("/esc1") if a["ticket_id"] == "LATE"] == []
    await alerting.signal(kind="breach", service="esc-late", ticket_id="LATE")
    for path in ("/esc1", "/esc2"):
        [got] = wait_for(
            f"the escalation at {path}",
            lambda p=path: [a for a in hook.alerts(p) if a["ticket_id"] == "LATE"],
            10,
        )
        assert got["kind"] == "breach"


async def test_a_route_is_muted_out_of_hours_by_a_calendar(
    alerting: Alerting, hook: WebhookCollector
) -> None:
    await alerting.signal(kind="breach", service="cal", ticket_id="C-1")
    await alerting.signal(kind="breach", service="always-muted", ticket_id="C-2")
    await marker(alerting, hook, "cal")
    assert hook.accepted("/cal") == []
    # the night shift starts (the engine republishes the calendar): the alert goes out
    await alerting.calendar(
        {"name": "night-shift", "timezone": "UTC", "hours": {d: ["00:00-24:00"] for d in DAYS}}
    )
    [sent] = wait_for("sent in working hours", lambda: hook.accepted("/cal"), 15)
    assert sent.body["alerts"][0]["ticket_id"] == "C-1"
