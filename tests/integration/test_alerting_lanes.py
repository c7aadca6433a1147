"""A consumed batch applied in lanes at once (PACTA_ALERTING_APPLY_LANES): alerts of both lanes
that share one group form it once, and every one of them is notified."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from pacta.events import SIGNALS_TOPIC, topic_name
from tests.support.alerting import WebhookCollector, running_alerting, wait_count
from tests.support.processes import wait_for

pytestmark = pytest.mark.integration
TICKETS = 40


async def test_alerts_of_two_lanes_share_their_group(
    kafka_bootstrap: str, service_env: dict[str, str], log_dir: Path, hook: WebhookCollector
) -> None:
    async with running_alerting(
        kafka_bootstrap, service_env, log_dir, PACTA_ALERTING_APPLY_LANES="2"
    ) as a:
        a.webhook("lanes", hook, "/lanes")
        route = {
            "receiver": "lanes",
            "group_by": ["service"],
            "group_wait": "0s",
            "group_interval": "1s",
        }
        a.ok("PUT", "/v1/routes", route)
        now = datetime.now(UTC).isoformat()
        signals = [
            {
                "signal_id": uuid.uuid4().hex,
                "kind": "breach",
                "service": "lanes",
                "policy": "gold",
                "metric": "response",
                "priority": "P1",
                "ticket_id": f"LANE-{k}",
                "occurred_at": now,
                "detected_at": now,
                "deadline": now,
                "labels": {},
            }
            for k in range(TICKETS)
        ]
        # sent together, so that one consumed batch holds them all (both lanes form the group)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=50)
        await producer.start()
        try:
            topic = topic_name(a.prefix, SIGNALS_TOPIC)
            sent = [await producer.send(topic, orjson.dumps(s), key=b"lanes") for s in signals]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

        wanted = {f"LANE-{k}" for k in range(TICKETS)}
        wait_for(
            "every alert notified",
            lambda: wanted <= {e["ticket_id"] for e in hook.alerts("/lanes")} or None,
            30,
        )
        firing = wait_count("the alerts", lambda: a.alerts(state="firing"), TICKETS)
        assert len(firing) == TICKETS
        assert hook.bad_signatures == []
        # one group: every notification carries its key
        assert len({r.body["group_key"] for r in hook.accepted("/lanes")}) == 1
