"""End to end with real programs, continued: Debian's Prometheus with a rule that fires and
resolves, through Debian's Alertmanager, into Pacta; an Alertmanager that a one-request rate
limit does not make lose alerts (the native monitoring formats skip the per-key bucket); and one
whose retries deliver an alert to an ingest that was down when it fired."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from tests.e2e.test_integrations_alertmanager import (
    alertmanager,
    alertmanager_config,
    go_time,
    monitoring,
    ms,
    post_alerts,
    put_policy,
)
from tests.support.client import INGEST_KEY
from tests.support.daemons import Daemon, require
from tests.support.kafka import TopicReader
from tests.support.processes import ServiceProcess, free_port, wait_for
from tests.support.sla_api import month_part, wait_downtime

pytestmark = pytest.mark.e2e
__all__ = ["alertmanager", "monitoring"]  # fixtures shared with the Alertmanager tests


async def test_prometheus_rule_fires_and_resolves_through_alertmanager_into_pacta(
    stack: dict[str, ServiceProcess],
    alertmanager: str,
    monitoring: TopicReader,
    tmp_path: Path,
) -> None:
    service = f"prom-{uuid.uuid4().hex[:8]}"
    put_policy(stack["sla_engine"].url, service)
    # fires from the first evaluation until `until`, then resolves: a real rule's life, short
    until = time.time() + 12
    rules = {
        "groups": [
            {
                "name": "pacta-e2e",
                "rules": [
                    {
                        "alert": "SyntheticOutage",
                        "expr": f"vector(time()) < {until:.3f}",
                        "labels": {"service": service, "severity": "critical"},
                        "annotations": {"summary": "synthetic outage for the e2e test"},
                    }
                ],
            }
        ]
    }
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp_path / "rules.yml")],
        "alerting": {
            "alertmanagers": [
                {"static_configs": [{"targets": [alertmanager.removeprefix("http://")]}]}
            ]
        },
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    url = f"http://127.0.0.1:{free_port()}"
    prometheus = Daemon(
        "prometheus",
        [
            require("prometheus"),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address={url.removeprefix('http://')}",
            # an alert sent before Alertmanager is discovered is re-sent after this, not 1 min
            "--rules.alert.resend-delay=1s",
        ],
        url,
        tmp_path,
    )
    try:
        firing = await monitoring.wait_for(
            "Prometheus's alert firing in Pacta",
            lambda r: r.get("service") == service and r["status"] == "firing",
            timeout=30,
        )
        resolved = await monitoring.wait_for(
            "Prometheus's alert resolved in Pacta",
            lambda r: r.get("service") == service and r["status"] == "resolved",
            timeout=40,
        )
    finally:
        prometheus.stop()
    assert firing["check"] == "SyntheticOutage"
    assert firing["severity"] == "critical"
    assert firing["labels"]["alertname"] == "SyntheticOutage"
    start = ms(datetime.fromisoformat(firing["occurred_at"]))
    end = ms(datetime.fromisoformat(resolved["occurred_at"]))
    assert end > start
    await wait_downtime(stack["sla_engine"].url, service, month_part(start, end))


@pytest.fixture(scope="module")
def strict_ingest(service_env: dict[str, str], log_dir: Path) -> Iterator[ServiceProcess]:
    """An ingest of its own whose per-key bucket holds one request (and refills once an hour)."""
    env = {
        **service_env,
        "PACTA_INGEST_RATE_LIMIT": "0.0003",
        "PACTA_INGEST_RATE_BURST": "1",
        "PACTA_INGEST_WORKERS": "1",  # one bucket per worker: one worker, one bucket
    }
    proc = ServiceProcess("ingest", env, log_dir)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


async def test_alertmanager_is_never_rate_limited_into_losing_alerts(
    strict_ingest: ServiceProcess,
    monitoring: TopicReader,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # the bucket is real: a generic request after the first is refused with 429
    tag = uuid.uuid4().hex[:8]
    event = {
        "service": f"rl-generic-{tag}",
        "check": "c",
        "status": "firing",
        "occurred_at": go_time(ms(datetime.now(UTC))),
    }
    headers = {"Authorization": f"Bearer {INGEST_KEY}"}
    answers = [
        httpx.post(
            strict_ingest.url + "/v1/events/monitoring",
            json={**event, "check": f"c{i}"},
            headers=headers,
            timeout=10,
        ).status_code
        for i in range(3)
    ]
    assert 429 in answers, answers
    # Alertmanager, one request per group (five groups), each firing then resolved: all arrive
    binary = require("prometheus-alertmanager")
    work = tmp_path_factory.mktemp("alertmanager-strict")
    config = work / "alertmanager.yml"
    config.write_text(yaml.safe_dump(alertmanager_config(strict_ingest.url)))
    url = f"http://127.0.0.1:{free_port()}"
    daemon = Daemon(
        "alertmanager",
        [binary, f"--config.file={config}", f"--storage.path={work / 'data'}",
         f"--web.listen-address={url.removeprefix('http://')}", "--cluster.listen-address="],
        url,
        work,
    )  # fmt: skip
    service = f"rl-{tag}"
    start = ms(datetime.now(UTC) - timedelta(minutes=3))
    try:
        alerts = [
            {"labels": {"alertname": f"A{i}", "service": service}, "startsAt": go_time(start)}
            for i in range(5)
        ]
        post_alerts(url, alerts)
        await monitoring.wait_for(
            "five firing alerts",
            lambda _: len(monitoring.matching(lambda r: r.get("service") == service)) >= 5,
            timeout=45,
        )
        end = go_time(start + timedelta(minutes=1))
        post_alerts(url, [{**a, "endsAt": end} for a in alerts])
        await monitoring.wait_for(
            "five resolved alerts",
            lambda _: (
                len(
                    monitoring.matching(
                        lambda r: r.get("service") == service and r["status"] == "resolved"
                    )
                )
                >= 5
            ),
            timeout=45,
        )
    finally:
        daemon.stop()
    ours = monitoring.matching(lambda r: r.get("service") == service)
    assert sorted((r["check"], r["status"]) for r in ours) == sorted(
        (f"A{i}", s) for i in range(5) for s in ("firing", "resolved")
    )


async def test_alertmanager_retries_while_the_ingest_is_down(
    service_env: dict[str, str],
    log_dir: Path,
    monitoring: TopicReader,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The ingest starts only after Alertmanager tried to deliver: its retries bring the alert."""
    ingest = ServiceProcess("ingest", {**service_env, "PACTA_INGEST_WORKERS": "1"}, log_dir)
    work = tmp_path_factory.mktemp("alertmanager-down")
    config = work / "alertmanager.yml"
    config.write_text(yaml.safe_dump(alertmanager_config(ingest.url)))
    url = f"http://127.0.0.1:{free_port()}"
    daemon = Daemon(
        "alertmanager",
        [require("prometheus-alertmanager"), f"--config.file={config}",
         f"--storage.path={work / 'data'}", f"--web.listen-address={url.removeprefix('http://')}",
         "--cluster.listen-address="],
        url,
        work,
    )  # fmt: skip
    service = f"down-{uuid.uuid4().hex[:8]}"

    def failed_attempts() -> float:
        text = httpx.get(url + "/metrics", timeout=5).text
        name = 'alertmanager_notifications_failed_total{integration="webhook"}'
        return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))

    try:
        post_alerts(url, [{"labels": {"alertname": "Down", "service": service}}])
        wait_for("Alertmanager's failed delivery to the absent ingest", failed_attempts, timeout=30)
        ingest.start()
        event = await monitoring.wait_for(
            "the alert after the ingest came up",
            lambda r: r.get("service") == service,
            timeout=60,
        )
        assert event["status"] == "firing"
    finally:
        daemon.stop()
        ingest.stop()
