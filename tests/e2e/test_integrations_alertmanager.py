"""End to end with a program nobody here wrote: Debian's Alertmanager, its webhook receiver (and
its PagerDuty receiver) pointed at the ingest, alerts injected through its API. Downtime is read
back from the sla-engine's availability API, to the millisecond. (Prometheus, and the rate
limit, in test_integrations_prometheus.py.)"""

from __future__ import annotations

import hashlib
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import yaml

from pacta.durations import parse_timestamp_ms
from pacta.events import MONITORING_TOPIC, topic_name
from pacta.settings import CommonSettings
from tests.support.client import ADMIN_KEY, INGEST_KEY
from tests.support.daemons import Daemon, require
from tests.support.kafka import TopicReader
from tests.support.processes import ServiceProcess, free_port, wait_for
from tests.support.sla_api import month_part, wait_downtime

pytestmark = pytest.mark.e2e
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def alertmanager_config(ingest: str) -> dict[str, Any]:
    """As docs/integrations.md shows it, with test timings (no 30 s group_wait)."""
    auth = {"authorization": {"type": "Bearer", "credentials": INGEST_KEY}}
    return {
        "route": {
            "receiver": "pacta",
            "group_by": ["alertname", "service"],
            "group_wait": "0s",
            "group_interval": "1s",
            "repeat_interval": "1h",
            "routes": [{"receiver": "pacta-pagerduty", "matchers": ['via="pagerduty"']}],
        },
        "receivers": [
            {
                "name": "pacta",
                "webhook_configs": [
                    {
                        "url": f"{ingest}/v1/ingest/alertmanager",
                        "send_resolved": True,
                        "http_config": auth,
                    }
                ],
            },
            {
                "name": "pacta-pagerduty",
                "pagerduty_configs": [
                    {
                        "url": f"{ingest}/v2/enqueue",
                        # PagerDuty clients authenticate with the routing key alone
                        "routing_key": INGEST_KEY,
                        "group": "{{ .CommonLabels.service }}",
                        "severity": "critical",
                        "send_resolved": True,
                    }
                ],
            },
        ],
    }


@pytest.fixture(scope="module")
def alertmanager(
    stack: dict[str, ServiceProcess], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    binary, amtool = require("prometheus-alertmanager"), require("amtool")
    work = tmp_path_factory.mktemp("alertmanager")
    config = work / "alertmanager.yml"
    config.write_text(yaml.safe_dump(alertmanager_config(stack["ingest"].url)))
    check = subprocess.run([amtool, "check-config", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    url = f"http://127.0.0.1:{free_port()}"
    daemon = Daemon(
        "alertmanager",
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={work / 'data'}",
            f"--web.listen-address={url.removeprefix('http://')}",
            f"--web.external-url={url}",
            "--cluster.listen-address=",
        ],
        url,
        work,
    )
    try:
        yield url
    finally:
        daemon.stop()


@pytest.fixture
async def monitoring(settings: CommonSettings) -> AsyncIterator[TopicReader]:
    topic = topic_name(settings.topic_prefix, MONITORING_TOPIC)
    async with TopicReader(settings.kafka_bootstrap, topic) as reader:
        yield reader


def go_time(at: datetime) -> str:
    """RFC 3339 with nanoseconds, as Go writes it."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


def post_alerts(alertmanager: str, alerts: list[dict[str, Any]]) -> None:
    r = httpx.post(f"{alertmanager}/api/v2/alerts", json=alerts, timeout=10)
    assert r.status_code == 200, r.text


def put_policy(engine: str, service: str) -> None:
    body = {"match": {"service": service}, "availability": {"target": 99.9}}
    r = httpx.put(f"{engine}/v1/policies/{service}", json=body, headers=ADMIN, timeout=10)
    assert r.status_code in (200, 201), r.text


def ms(at: datetime) -> datetime:
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


async def test_alertmanager_firing_then_resolved_is_downtime_to_the_ms(
    stack: dict[str, ServiceProcess], alertmanager: str, monitoring: TopicReader
) -> None:
    service = f"am-{uuid.uuid4().hex[:8]}"
    put_policy(stack["sla_engine"].url, service)
    labels = {"alertname": "HighErrorRate", "service": service, "severity": "critical"}
    start = ms(datetime.now(UTC) - timedelta(minutes=7))
    end = start + timedelta(minutes=5, seconds=3, milliseconds=250)
    post_alerts(alertmanager, [{"labels": labels, "startsAt": go_time(start)}])
    firing = await monitoring.wait_for(
        "the firing alert",
        lambda r: r.get("service") == service and r["status"] == "firing",
        timeout=45,
    )
    assert firing["check"] == "HighErrorRate"
    assert firing["source"] == "alertmanager"
    # to the millisecond (a whole second is written without its ".000")
    assert parse_timestamp_ms(firing["occurred_at"]) == round(start.timestamp() * 1000)
    post_alerts(
        alertmanager, [{"labels": labels, "startsAt": go_time(start), "endsAt": go_time(end)}]
    )
    resolved = await monitoring.wait_for(
        "the resolved alert",
        lambda r: r.get("service") == service and r["status"] == "resolved",
        timeout=45,
    )
    assert resolved["labels"]["alertname"] == "HighErrorRate"
    await wait_downtime(stack["sla_engine"].url, service, month_part(start, end))


async def test_group_reflushes_count_once(
    stack: dict[str, ServiceProcess], alertmanager: str, monitoring: TopicReader
) -> None:
    service = f"am-{uuid.uuid4().hex[:8]}"
    first = {"alertname": "DiskFull", "service": service, "instance": "db1"}
    second = {**first, "instance": "db2"}
    post_alerts(alertmanager, [{"labels": first}])
    await monitoring.wait_for("db1 firing", lambda r: r.get("labels", {}).get("instance") == "db1"
                              and r.get("service") == service, timeout=45)  # fmt: skip
    # the same group again, now with db2: Alertmanager re-sends db1 alongside it
    post_alerts(alertmanager, [{"labels": second}])
    await monitoring.wait_for("db2 firing", lambda r: r.get("labels", {}).get("instance") == "db2"
                              and r.get("service") == service, timeout=45)  # fmt: skip

    def duplicates() -> float:
        text = httpx.get(stack["ingest"].url + "/metrics", timeout=5).text
        name = 'pacta_ingest_events_duplicated_total{kind="monitoring",source="alertmanager"} '
        return sum(float(line[len(name) :]) for line in text.splitlines() if line.startswith(name))

    # db1's re-send answered as a duplicate (the counter is bumped as the 202 goes out)
    wait_for("a duplicate from Alertmanager's re-send", duplicates, timeout=10)
    ours = monitoring.matching(lambda r: r.get("service") == service)
    assert sorted(r["labels"]["instance"] for r in ours) == ["db1", "db2"], ours


async def test_alertmanager_pagerduty_receiver_through_v2_enqueue(
    stack: dict[str, ServiceProcess], alertmanager: str, monitoring: TopicReader
) -> None:
    service = f"pd-{uuid.uuid4().hex[:8]}"
    put_policy(stack["sla_engine"].url, service)
    labels = {"alertname": "QueueStuck", "service": service, "via": "pagerduty"}
    post_alerts(alertmanager, [{"labels": labels}])
    group_key = f'{{}}/{{via="pagerduty"}}:{{alertname="QueueStuck", service="{service}"}}'
    dedup_key = hashlib.sha256(group_key.encode()).hexdigest()
    firing = await monitoring.wait_for(
        "the PagerDuty trigger",
        lambda r: r.get("service") == service and r["status"] == "firing",
        timeout=45,
    )
    assert firing["check"] == dedup_key
    assert firing["source"] == "pagerduty"
    now = datetime.now(UTC)
    post_alerts(alertmanager, [{"labels": labels, "endsAt": go_time(now)}])
    resolved = await monitoring.wait_for(
        "the PagerDuty resolve",
        lambda r: r.get("service") == service and r["status"] == "resolved",
        timeout=45,
    )
    assert resolved["check"] == dedup_key
    # PagerDuty events carry no timestamp: receipt times, so downtime is their difference
    start = ms(datetime.fromisoformat(firing["occurred_at"]))
    end = ms(datetime.fromisoformat(resolved["occurred_at"]))
    await wait_downtime(stack["sla_engine"].url, service, month_part(start, end))
