"""End to end with PagerDuty's own Python client (`pagerduty` 7.2.0, nobody here wrote it)
pointed at the ingest: it insists on https, so the ingest runs behind TLS on loopback with a
certificate of the test's own; trigger, acknowledge and resolve reach the sla-engine."""

from __future__ import annotations

import ssl
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from pagerduty import EventsApiV2Client

from pacta.events import MONITORING_TOPIC, topic_name
from pacta.settings import CommonSettings
from tests.support.client import ADMIN_KEY, INGEST_KEY
from tests.support.daemons import stop_process
from tests.support.kafka import TopicReader
from tests.support.processes import ServiceProcess, free_port, wait_for
from tests.support.sla_api import wait_downtime

pytestmark = pytest.mark.e2e
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture(scope="module")
def tls_ingest(
    service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """The ingest app served by uvicorn with TLS: its https URL and the certificate to trust."""
    work = tmp_path_factory.mktemp("tls")
    key, cert = work / "tls.key", work / "tls.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    log = work / "ingest-tls.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "ingest.app:create_app",
             "--host", "127.0.0.1", "--port", str(port),
             "--ssl-keyfile", str(key), "--ssl-certfile", str(cert)],
            env={**service_env, "PATH": "/usr/bin:/bin"},
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"https://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(log.read_text(errors="replace")[-3000:])
        context = ssl.create_default_context(cafile=str(cert))
        return httpx.get(url + "/readyz", verify=context, timeout=3).status_code == 200

    try:
        wait_for("the TLS ingest /readyz", ready, timeout=60, every=0.1)
        yield url, cert
    finally:
        stop_process(proc)


@pytest.fixture
async def monitoring(settings: CommonSettings) -> AsyncIterator[TopicReader]:
    topic = topic_name(settings.topic_prefix, MONITORING_TOPIC)
    async with TopicReader(settings.kafka_bootstrap, topic) as reader:
        yield reader


async def test_pagerduty_python_client_trigger_acknowledge_resolve(
    stack: dict[str, ServiceProcess], tls_ingest: tuple[str, Path], monitoring: TopicReader
) -> None:
    url, cert = tls_ingest
    service = f"pdc-{uuid.uuid4().hex[:8]}"
    engine = stack["sla_engine"].url
    policy = {"match": {"service": service}, "availability": {"target": 99.9}}
    r = httpx.put(f"{engine}/v1/policies/{service}", json=policy, headers=ADMIN, timeout=10)
    assert r.status_code in (200, 201), r.text

    # the routing key is a Pacta ingest key; the client sends nothing else to authenticate
    trust = ssl.create_default_context(cafile=str(cert))
    with EventsApiV2Client(INGEST_KEY, base_url=url, verify=trust) as client:
        dedup_key = client.trigger(
            "Queue consumer stalled", "worker-7.internal", custom_details={"service": service}
        )  # no dedup_key given: the ingest makes one up and the client reads it back
        assert dedup_key
        client.acknowledge(dedup_key)
        assert client.resolve(dedup_key) == dedup_key

    firing = await monitoring.wait_for(
        "the trigger", lambda e: e.get("service") == service and e["status"] == "firing", timeout=45
    )
    resolved = await monitoring.wait_for(
        "the resolve",
        lambda e: e.get("service") == service and e["status"] == "resolved",
        timeout=45,
    )
    assert firing["check"] == resolved["check"] == dedup_key
    assert firing["source"] == "pagerduty"
    start = datetime.fromisoformat(firing["occurred_at"])
    end = datetime.fromisoformat(resolved["occurred_at"])
    expected = (end.replace(microsecond=end.microsecond // 1000 * 1000)
                - start.replace(microsecond=start.microsecond // 1000 * 1000)).total_seconds()  # fmt: skip
    await wait_downtime(engine, service, expected)  # the outage in the engine's availability
    # nothing else for the service: the acknowledgement changed nothing
    assert len(monitoring.matching(lambda e: e.get("service") == service)) == 2
