"""Fixtures for every tier: the real Kafka and PostgreSQL (failing loudly when absent), a
database and a topic prefix of this run's own, and the services as real processes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from hypothesis import HealthCheck, settings

from pacta.kafka import ensure_topics
from pacta.settings import CommonSettings
from tests.support.alerting import hook, mailbox  # noqa: F401  (the alerting tests' fixtures)
from tests.support.postgres import ADMIN_DSN, create_database, database_named, drop_database
from tests.support.processes import ServiceProcess

KAFKA = os.environ.get("PACTA_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
RUN_ID = uuid.uuid4().hex[:8]
ADMIN_KEY, INGEST_KEY, READ_KEY = "test-admin-key", "test-ingest-key", "test-admin-key"
API_KEYS = f"{ADMIN_KEY}:admin,{INGEST_KEY}:ingest"
# The cluster tests run against the three-broker cluster only (`make test-cluster` starts it
# and names it in PACTA_CLUSTER_BOOTSTRAP); `make test` leaves them out.
collect_ignore = [] if os.environ.get("PACTA_CLUSTER_BOOTSTRAP") else ["cluster"]

# `make test-properties`: the model-based property tests (marker `properties`) with thousands
# of random examples; by default they run a bounded, seeded number (see their modules)
settings.register_profile(
    "properties",
    max_examples=int(os.environ.get("PACTA_PROPERTY_EXAMPLES", "3000")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)


async def _check_kafka() -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA, request_timeout_ms=5000)
    try:
        await asyncio.wait_for(admin.start(), 15)
        await admin.list_topics()
    finally:
        await admin.close()


async def _delete_run_topics() -> None:
    """Delete every topic this run created (their names start with `test<run id>`), so that a
    developer's long-lived broker does not carry thousands of partitions from earlier runs."""
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA, request_timeout_ms=30_000)
    try:
        await asyncio.wait_for(admin.start(), 15)
        mine = sorted(t for t in await admin.list_topics() if t.startswith(f"test{RUN_ID}"))
        for at in range(0, len(mine), 200):
            await admin.delete_topics(mine[at : at + 200], timeout_ms=30_000)
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def kafka_bootstrap() -> AsyncIterator[str]:
    """The real broker; a test that needs it fails (never skips) when it is not there. The
    run's topics are deleted once every test that used them is done."""
    try:
        await _check_kafka()
    except Exception as exc:
        pytest.fail(f"Kafka is not reachable at {KAFKA} (run `make setup`): {exc!r}")
    yield KAFKA
    try:
        await asyncio.wait_for(_delete_run_topics(), 120)
    except Exception as exc:  # a leftover topic costs the broker, never a test
        print(f"\n[tests] this run's topics not deleted: {exc!r}")


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    """A fresh database for this run, dropped afterwards."""
    name = f"pacta_test_{RUN_ID}"
    try:
        admin = await asyncpg.connect(ADMIN_DSN, timeout=10)
    except Exception as exc:
        pytest.fail(f"PostgreSQL is not reachable at {ADMIN_DSN} (run `make setup`): {exc!r}")
    await admin.close()
    yield await create_database(name)
    await drop_database(name)


@pytest.fixture(scope="session")
async def settings(kafka_bootstrap: str, database_url: str) -> CommonSettings:
    s = CommonSettings(
        kafka_bootstrap=kafka_bootstrap,
        database_url=database_url,
        topic_prefix=f"test{RUN_ID}",
        api_keys=API_KEYS,
    )
    await ensure_topics(s)
    return s


@pytest.fixture(scope="session")
def service_env(settings: CommonSettings) -> dict[str, str]:
    return {
        "PACTA_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "PACTA_DATABASE_URL": settings.database_url,
        "PACTA_TOPIC_PREFIX": settings.topic_prefix,
        "PACTA_API_KEYS": API_KEYS,
        "PACTA_LOG_LEVEL": "INFO",
    }


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service-logs")


@contextlib.contextmanager
def running_stack(env: dict[str, str], log_dir: Path) -> Iterator[dict[str, ServiceProcess]]:
    """The four services as real processes on `env`, started together, stopped on exit."""
    procs = {
        m: ServiceProcess(m, env, log_dir)
        for m in ("ingest", "sla_engine", "alerting", "reporting")
    }
    for p in procs.values():
        p.start(wait=False)
    try:
        for p in procs.values():
            p.wait_ready()
        yield procs
    finally:
        for p in procs.values():
            p.stop()


@pytest.fixture(scope="session")
def stack(service_env: dict[str, str], log_dir: Path) -> Iterator[dict[str, ServiceProcess]]:
    """The four services as real processes, shared by the end-to-end tests of a run."""
    with running_stack(service_env, log_dir) as procs:
        yield procs


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


@contextlib.asynccontextmanager
async def fresh_database(tag: str) -> AsyncIterator[str]:
    """A database of its own (`pacta_test_<run>_<tag>`), its URL, dropped on exit."""
    async with database_named(f"pacta_test_{RUN_ID}_{tag}") as url:
        yield url


@dataclasses.dataclass(frozen=True)
class OwnDatabase:
    """A database and topic prefix of one module's own, with the services' environment."""

    settings: CommonSettings
    env: dict[str, str]


@pytest.fixture(scope="module")
async def own_database(kafka_bootstrap: str) -> AsyncIterator[OwnDatabase]:
    """A database and topic prefix of this module's own, dropped afterwards: for tests that ask
    for what every service holds (a report over all services, a month issued automatically)
    and must not depend on what the rest of the suite put in the shared database."""
    tag = uuid.uuid4().hex[:8]
    async with fresh_database(tag) as url:
        own = CommonSettings(
            kafka_bootstrap=kafka_bootstrap,
            database_url=url,
            topic_prefix=f"test{RUN_ID}{tag}",
            api_keys=API_KEYS,
        )
        await ensure_topics(own)
        env = {
            "PACTA_KAFKA_BOOTSTRAP": own.kafka_bootstrap,
            "PACTA_DATABASE_URL": own.database_url,
            "PACTA_TOPIC_PREFIX": own.topic_prefix,
            "PACTA_API_KEYS": API_KEYS,
            "PACTA_LOG_LEVEL": "INFO",
        }
        yield OwnDatabase(own, env)


@pytest.fixture(scope="module")
def own_stack(own_database: OwnDatabase, log_dir: Path) -> Iterator[dict[str, ServiceProcess]]:
    """The four services on a database and topic prefix of this module's own: for tests that
    write what a user would (the README's tour, the demo month: catch-all routes, shared
    service names) and must neither see nor change what the shared `stack` holds."""
    with running_stack(own_database.env, log_dir) as procs:
        yield procs
