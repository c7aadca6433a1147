"""Configuration as code: the YAML file named by PACTA_ALERTING_CONFIG_FILE is loaded at
start-up, and a file with a mistake stops the start naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.alerting import (
    WebhookCollector,
    drop_database_at,
    fresh_database,
    running_alerting,
    wait_count,
)
from tests.support.processes import ServiceProcess, wait_for

pytestmark = pytest.mark.integration

GOOD = """
receivers:
  oncall: {type: webhook, url: "http://127.0.0.1:PORT/yaml", secret: whsec-test}
escalation_policies:
  page:
    steps:
      - {after: 0s, receivers: [oncall]}
route:
  receiver: oncall
  group_by: ['...']
  group_wait: 0s
  routes:
    - matchers: ['kind="breach"', 'priority=~"P1|P2"']
      escalation: page
      group_wait: 1h
inhibit_rules:
  - source_matchers: [kind=availability_breach]
    target_matchers: [kind=warning]
    equal: [service]
"""


async def test_the_file_is_loaded_at_start(
    kafka_bootstrap: str,
    service_env: dict[str, str],
    log_dir: Path,
    tmp_path: Path,
    hook: WebhookCollector,
) -> None:
    path = tmp_path / "alerting.yaml"
    path.write_text(GOOD.replace("PORT", str(hook.port)))
    async with running_alerting(
        kafka_bootstrap, service_env, log_dir, PACTA_ALERTING_CONFIG_FILE=str(path)
    ) as a:
        tree = a.ok("GET", "/v1/routes")
        assert tree["group_wait"] == "0s"
        assert tree["routes"][0]["escalation"] == "page"
        assert a.ok("GET", "/v1/receivers/oncall")["secret"] == "<set>"
        assert a.ok("GET", "/v1/inhibit-rules")["items"][0]["equal"] == ["service"]
        # the escalation's first step pages at once (the route's own group waits an hour)
        await a.signal(kind="breach", ticket_id="Y-1", priority="P1")
        [got] = wait_count("the page", lambda: hook.accepted("/yaml"), 1)
        assert got.body["alerts"][0]["ticket_id"] == "Y-1"
        assert got.body["group_key"].startswith("escalation:page:")


UNKNOWN_SCHEDULE = """
receivers:
  r: {type: webhook, url: "http://127.0.0.1:9/x"}
escalation_policies:
  page:
    steps:
      - {after: 0s, schedules: [ghost]}
"""


@pytest.mark.parametrize(
    ("text", "mistake"),
    [
        ("route:\n  receiver: nobody\n", "receiver 'nobody' is not defined"),
        (UNKNOWN_SCHEDULE, "unknown schedules ['ghost']"),
    ],
)
async def test_a_bad_file_stops_the_start_naming_the_mistake(
    kafka_bootstrap: str,
    service_env: dict[str, str],
    log_dir: Path,
    tmp_path: Path,
    text: str,
    mistake: str,
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    url = await fresh_database()
    proc = ServiceProcess(
        "alerting",
        {**service_env, "PACTA_DATABASE_URL": url, "PACTA_ALERTING_CONFIG_FILE": str(path)},
        log_dir,
    ).start(wait=False)
    assert proc.proc is not None
    code = wait_for("the refusal to start", lambda: proc.proc.poll() if proc.proc else None, 30)
    assert code != 0
    assert mistake in proc.tail(200)
    await drop_database_at(url)
