"""A configuration change is in force for everything after its answer: the periodic refresh
(made to run continuously here, so it always has a read in flight) never brings an older
routing tree, receiver, inhibit rule set, policy or silence list back."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.alerting import Alerting, WebhookCollector, own_alerting

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
    a = await own_alerting(
        kafka_bootstrap, service_env, log_dir, PACTA_ALERTING_REFRESH_SECONDS="0.01"
    )
    a.webhook("a", hook, "/a")
    a.webhook("b", hook, "/b")
    yield a
    await a.close()


def test_a_put_tree_stays_in_force_through_refreshes(alerting: Alerting) -> None:
    for i in range(40):
        receiver = "ab"[i % 2]
        alerting.ok("PUT", "/v1/routes", {"receiver": receiver, "group_wait": f"{i + 1}s"})
        until = time.monotonic() + 0.15
        while time.monotonic() < until:
            got = alerting.ok("POST", "/v1/routes/test", {"labels": {}})["matches"][0]
            assert (got["receiver"], got["group_wait"]) == (receiver, f"{i + 1}s"), i


def test_receivers_policies_and_silences_stay_in_force(alerting: Alerting) -> None:
    for i in range(20):
        url = f"http://r{i}.example/hook"
        alerting.ok("PUT", "/v1/receivers/moving", {"type": "webhook", "url": url})
        policy = {"steps": [{"after": f"{i}s", "receivers": ["moving"]}]}
        alerting.ok("PUT", "/v1/escalation-policies/p", policy)
        rules = {
            "items": [{"source_matchers": [f"n={i}"], "target_matchers": ["x=y"], "equal": []}]
        }
        alerting.ok("PUT", "/v1/inhibit-rules", rules)
        silence = alerting.ok(
            "POST",
            "/v1/silences",
            {"matchers": [f"n={i}"], "ends_at": "2099-01-01T00:00:00Z"},
        )
        until = time.monotonic() + 0.1
        while time.monotonic() < until:
            assert alerting.ok("GET", "/v1/receivers/moving")["url"] == f"http://r{i}.example:80"
            assert alerting.ok("GET", "/v1/escalation-policies/p")["steps"][0]["after"] == f"{i}s"
            assert alerting.ok("GET", "/v1/inhibit-rules") == rules
        assert alerting.call("DELETE", f"/v1/silences/{silence['id']}").status_code == 204
