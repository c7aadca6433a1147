"""Fixtures of the cluster tests: the three-broker Kafka cluster of
deploy/local/kafka-cluster.sh (PACTA_CLUSTER_BOOTSTRAP, which `make test-cluster` sets) in
place of the single broker, and topics replicated three times on it."""

from __future__ import annotations

import asyncio
import os

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from pacta.kafka import ensure_topics
from pacta.settings import CommonSettings
from tests.conftest import API_KEYS, RUN_ID

BROKERS = 3


async def _brokers(bootstrap: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await asyncio.wait_for(admin.start(), 15)
        return len((await admin.describe_cluster())["brokers"])
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def kafka_bootstrap() -> str:
    """The cluster; the tests fail (never skip) when it is not there with all its brokers."""
    bootstrap = os.environ.get("PACTA_CLUSTER_BOOTSTRAP", "")
    if not bootstrap:
        pytest.fail("PACTA_CLUSTER_BOOTSTRAP is not set (run `make test-cluster`)")
    try:
        alive = await _brokers(bootstrap)
    except Exception as exc:
        pytest.fail(f"the Kafka cluster at {bootstrap} does not answer: {exc!r}")
    if alive < BROKERS:
        pytest.fail(f"the Kafka cluster at {bootstrap} has {alive} brokers alive, not {BROKERS}")
    return bootstrap


@pytest.fixture(scope="session")
async def settings(kafka_bootstrap: str, database_url: str) -> CommonSettings:
    s = CommonSettings(
        kafka_bootstrap=kafka_bootstrap,
        database_url=database_url,
        topic_prefix=f"cluster{RUN_ID}",
        topic_replication=BROKERS,
        api_keys=API_KEYS,
    )
    await ensure_topics(s)
    return s
