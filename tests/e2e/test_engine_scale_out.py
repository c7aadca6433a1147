"""Two sla-engine instances in one consumer group share the ticket partitions; when one leaves,
the other takes its open clocks over: no breach is missed and none fires twice."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from pacta.events import SIGNALS_TOPIC, topic_name
from pacta.settings import CommonSettings
from tests.support.client import ADMIN_KEY, iso, poll_value, post
from tests.support.kafka import TopicReader
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.e2e


async def test_rebalance_loses_no_timer_and_fires_nothing_twice(
    stack: dict[str, ServiceProcess],
    service_env: dict[str, str],
    log_dir: Path,
    settings: CommonSettings,
    db: asyncpg.Connection,
) -> None:
    tag = uuid.uuid4().hex[:8]
    first = stack["sla_engine"]
    second = ServiceProcess("sla_engine", {**service_env, "PACTA_INSTANCE_ID": "second"}, log_dir)
    second.start()
    try:
        r = httpx.put(
            f"{first.url}/v1/policies/scale-{tag}",
            json={
                "match": {"service": f"svc-{tag}"},
                "warn_at": [0.5],
                "targets": {"P1": {"response": "1h", "resolution": "8s"}},
            },
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        assert r.status_code == 201, r.text
        # the second instance learns policies from the database; give it the same view
        await poll_value(
            db,
            "SELECT count(*) FROM sla_engine.policies WHERE name = $1",
            f"scale-{tag}",
            expect=1,
        )
        created = datetime.now(UTC)
        tickets = [
            {
                "ticket_id": f"S-{tag}-{n}",
                "service": f"svc-{tag}",
                "priority": "P1",
                "action": "created",
                "occurred_at": iso(created),
            }
            for n in range(24)
        ]
        async with TopicReader(
            settings.kafka_bootstrap, topic_name(settings.topic_prefix, SIGNALS_TOPIC)
        ) as signals:
            assert post(stack["ingest"].url, "/v1/events/tickets", tickets).status_code == 202
            await poll_value(
                db,
                "SELECT count(*) FROM sla_engine.clocks WHERE service = $1",
                f"svc-{tag}",
                expect=48,
            )
            first.stop()  # a graceful leave: the group rebalances at once
            await poll_value(
                db,
                "SELECT count(*) FROM sla_engine.signals WHERE service = $1 AND kind = 'breach'",
                f"svc-{tag}",
                expect=24,
                timeout=40,
            )
            for n in range(24):
                await signals.wait_for(
                    f"breach of S-{tag}-{n}",
                    lambda s, n=n: s["ticket_id"] == f"S-{tag}-{n}" and s["kind"] == "breach",
                    timeout=20,
                )
            breaches = signals.matching(
                lambda s: s["service"] == f"svc-{tag}" and s["kind"] == "breach"
            )
            assert sorted(s["ticket_id"] for s in breaches) == sorted(
                t["ticket_id"] for t in tickets
            )
    finally:
        second.stop()
        first.start()
