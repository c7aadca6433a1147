"""Alerting against real Kafka, PostgreSQL and HTTP: a signal on the topic becomes one signed
webhook; the same signal never notifies twice; a receiver that is down gets everything once
it is back; failures are kept and replayed; kill -9 in a burst loses nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.alerting import Alerting, WebhookCollector, running_alerting, wait_count
from tests.support.processes import ServiceProcess, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def alerting(
    kafka_bootstrap: str, service_env: dict[str, str], log_dir: Path, hook: WebhookCollector
) -> AsyncIterator[Alerting]:
    async with running_alerting(kafka_bootstrap, service_env, log_dir) as a:
        a.webhook("hook", hook, "/main")
        a.webhook("flaky", hook, "/flaky")
        a.webhook("slow", hook, "/slow")
        a.ok(
            "PUT",
            "/v1/routes",
            {
                "receiver": "hook",
                "group_by": ["..."],
                "group_wait": "0s",
                "group_interval": "1s",
                "routes": [
                    {"matchers": ["service=flaky"], "receiver": "flaky"},
                    {"matchers": ["service=slow"], "receiver": "slow"},
                ],
            },
        )
        yield a


async def test_a_breach_becomes_one_signed_webhook(
    alerting: Alerting, hook: WebhookCollector
) -> None:
    sent = await alerting.signal(kind="breach", ticket_id="INC-1", labels={"team": "pay"})
    [got] = wait_count("the webhook", lambda: hook.accepted("/main"), 1)
    assert hook.bad_signatures == []
    body = got.body
    assert body["version"] == "1"
    assert body["status"] == "firing"
    assert body["group_key"]
    [entry] = body["alerts"]
    assert entry["signal_id"] == sent["signal_id"]
    assert entry["kind"] == "breach"
    assert entry["ticket_id"] == "INC-1"
    assert entry["labels"] == {"team": "pay"}
    assert entry["state"] == "firing"
    assert entry["alert_id"].startswith("al-")
    assert entry["ack_url"].startswith(alerting.url + "/v1/ack/")
    assert got.headers["Idempotency-Key"].startswith("pacta-")
    # the same signal again (a replay, a rebalance) notifies nobody
    await alerting.signals([sent])
    alerts = alerting.alerts()
    assert [a["ticket_id"] for a in alerts] == ["INC-1"]
    assert alerts[0]["receivers"] == ["hook"]
    assert [h["event"] for h in alerts[0]["history"]] == ["fired", "notified"]
    deliveries = alerting.ok("GET", f"/v1/deliveries?alert_id={entry['alert_id']}")["items"]
    assert [d["outcome"] for d in deliveries] == ["delivered"]
    assert deliveries[0]["attempts"][0]["outcome"] == "delivered"
    # give a second notification every chance to show up, then check it did not
    await alerting.signal(kind="breach", ticket_id="INC-1-marker")
    wait_count("the marker", lambda: hook.accepted("/main"), 2)
    assert [r.body["alerts"][0]["ticket_id"] for r in hook.accepted("/main")] == [
        "INC-1",
        "INC-1-marker",
    ]


async def test_resolve_reaches_the_receiver_told_of_the_firing(
    alerting: Alerting, hook: WebhookCollector
) -> None:
    await alerting.signal(kind="warning", ticket_id="INC-2", threshold=0.5)
    wait_for("firing", lambda: [a for a in hook.alerts("/main") if a["ticket_id"] == "INC-2"])
    await alerting.signal(kind="met", ticket_id="INC-2")

    def resolved() -> list[dict[str, object]]:
        return [
            r.body
            for r in hook.accepted("/main")
            if r.body["status"] == "resolved" and r.body["alerts"][0]["ticket_id"] == "INC-2"
        ]

    [body] = wait_for("the resolve", resolved, timeout=10)
    assert body["alerts"][0]["kind"] == "met"
    assert body["alerts"][0]["state"] == "resolved"
    [alert] = [a for a in alerting.alerts(state="resolved") if a["ticket_id"] == "INC-2"]
    assert alert["resolved_at"]


async def test_a_receiver_down_for_a_while_gets_everything_once(
    alerting: Alerting, hook: WebhookCollector
) -> None:
    hook.status = 503
    sent = await alerting.signals(
        [{"kind": "breach", "service": "flaky", "ticket_id": f"F-{i}"} for i in range(10)]
    )
    wait_count("refused attempts", lambda: [r for r in hook.received if r.path == "/flaky"], 15)
    hook.status = 200
    accepted = wait_count("every delivery", lambda: hook.accepted("/flaky"), 10, timeout=30)
    keys = Counter(r.headers["Idempotency-Key"] for r in accepted)
    assert len(keys) == 10
    assert set(keys.values()) == {1}
    assert {a["signal_id"] for r in accepted for a in r.body["alerts"]} == {
        s["signal_id"] for s in sent
    }
    # every attempt is on record, the refused ones with their answer
    items = alerting.ok("GET", "/v1/deliveries?receiver=flaky")["items"]
    assert len(items) == 10
    assert {d["outcome"] for d in items} == {"delivered"}
    attempts = [a for d in items for a in d["attempts"]]
    assert any(a["outcome"] == "retry" and "503" in a["detail"] for a in attempts)
    # retried with the same key each time
    by_key = Counter(r.headers["Idempotency-Key"] for r in hook.received if r.path == "/flaky")
    assert set(by_key) == set(keys)


async def test_a_refused_delivery_is_kept_and_replayed(
    alerting: Alerting, hook: WebhookCollector
) -> None:
    hook.status = 400  # not retryable: the delivery fails at once and is kept
    await alerting.signal(kind="breach", service="flaky", ticket_id="BAD-1")
    failed = wait_for(
        "a failed delivery",
        lambda: alerting.ok("GET", "/v1/deliveries?outcome=failed&receiver=flaky")["items"],
    )
    hook.status = 200
    before = len(hook.accepted("/flaky"))
    r = alerting.call("POST", f"/v1/deliveries/{failed[0]['id']}/replay")
    assert r.status_code == 202, r.text
    wait_count("the replay", lambda: hook.accepted("/flaky"), before + 1)
    assert hook.accepted("/flaky")[-1].headers["Idempotency-Key"] == failed[0]["idempotency_key"]
    assert alerting.call("POST", "/v1/deliveries/999999/replay").status_code == 404


async def test_a_slow_receiver_gets_at_most_its_concurrency_at_once(
    alerting: Alerting, hook: WebhookCollector
) -> None:
    hook.delay, hook.max_in_flight = 1.0, 0
    try:
        await alerting.signals(
            [{"kind": "breach", "service": "slow", "ticket_id": f"SL-{i}"} for i in range(80)]
        )
        wait_count("the slow deliveries", lambda: hook.accepted("/slow"), 80, timeout=30)
    finally:
        hook.delay = 0.0
    # PACTA_ALERTING_RECEIVER_CONCURRENCY defaults to 32: never more; and in parallel (how
    # close to 32 it gets depends on how the 80 signals fall into consumed batches)
    assert 16 <= hook.max_in_flight <= 32


def test_metrics_count_notifications_and_their_latency(alerting: Alerting) -> None:
    text = httpx.get(alerting.url + "/metrics", timeout=10).text
    assert 'pacta_notifications_total{outcome="delivered",receiver="hook",type="webhook"}' in text
    assert 'pacta_notification_latency_seconds_count{receiver="hook"}' in text
    assert "pacta_delivery_queue_depth" in text
    wait_for(
        "alerts by state",
        lambda: (
            'pacta_alerts{state="firing"}' in httpx.get(alerting.url + "/metrics", timeout=10).text
        ),
        15,
    )


async def test_a_second_instance_joining_and_leaving_notifies_each_signal_once(
    alerting: Alerting, hook: WebhookCollector, log_dir: Path
) -> None:
    second = ServiceProcess("alerting", alerting.proc.env, log_dir)
    second.env["PACTA_ALERTING_PORT"] = str(second.port)
    second.start()
    try:
        first = await alerting.signals(
            [
                {"kind": "breach", "service": f"reb-{i % 6}", "ticket_id": f"R-{i}"}
                for i in range(40)
            ]
        )
    finally:
        second.stop()  # a rebalance each way, with signals in between
    rest = await alerting.signals(
        [{"kind": "breach", "service": f"reb-{i % 6}", "ticket_id": f"R2-{i}"} for i in range(20)]
    )
    wanted = {s["signal_id"] for s in first + rest}

    def arrived() -> set[str]:
        got = {a["signal_id"] for a in hook.alerts("/main")} & wanted
        return got if got == wanted else set()

    wait_for("every signal", arrived, timeout=60)
    # each signal was decided once: one delivery per alert, whichever instance applied it
    deliveries = [
        d
        for d in alerting.ok("GET", "/v1/deliveries?receiver=hook&limit=5000")["items"]
        if any(a in d["alert_ids"] for a in _alert_ids(hook, wanted))
    ]
    per_alert = Counter(a for d in deliveries for a in d["alert_ids"])
    assert len(per_alert) == 60
    assert set(per_alert.values()) == {1}


def _alert_ids(hook: WebhookCollector, signal_ids: set[str]) -> set[str]:
    return {a["alert_id"] for a in hook.alerts("/main") if a["signal_id"] in signal_ids}


async def test_kill_9_in_a_burst_loses_nothing(alerting: Alerting, hook: WebhookCollector) -> None:
    sent = await alerting.signals(
        [{"kind": "breach", "service": "burst", "ticket_id": f"B-{i}"} for i in range(150)]
    )
    wait_count(
        "a part of the burst",
        lambda: [a for a in hook.alerts("/main") if a["service"] == "burst"],
        5,
    )
    alerting.proc.kill()
    alerting.proc.start()

    def burst() -> set[str]:
        got = {a["signal_id"] for a in hook.alerts("/main") if a["service"] == "burst"}
        return got if len(got) == 150 else set()

    got = wait_for("the whole burst", burst, timeout=60)
    assert got == {s["signal_id"] for s in sent}
    # at least once: a delivery interrupted by the kill may come twice, with the same key
    keys = Counter(
        r.headers["Idempotency-Key"]
        for r in hook.accepted("/main")
        if r.body["alerts"][0]["service"] == "burst"
    )
    assert len(keys) == 150
