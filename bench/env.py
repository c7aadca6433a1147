"""A benchmark's own world: a throwaway database and topic prefix, and ways to count what landed.

Database `pacta_bench_<rand>` and topics `bench<rand>.*` are created on entry and dropped on exit,
so a run never touches (or is skewed by) the data of `make up` or of a test run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from pacta.events import ALL_TOPICS, MONITORING_TOPIC, topic_name
from pacta.kafka import ensure_topics
from pacta.settings import CommonSettings

KAFKA = os.environ.get("PACTA_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
ADMIN_DSN = os.environ.get("PACTA_BENCH_ADMIN_DSN", "postgresql://pacta:pacta@127.0.0.1:5432/pacta")
API_KEY = "bench-ingest-key"
ADMIN_KEY = "bench-admin-key"


@dataclass
class BenchEnv:
    rand: str = field(default_factory=lambda: secrets.token_hex(4))
    consumer: AIOKafkaConsumer | None = None
    partitions: list[TopicPartition] = field(default_factory=list)

    @property
    def db_name(self) -> str:
        return f"pacta_bench_{self.rand}"

    @property
    def database_url(self) -> str:
        return ADMIN_DSN.rsplit("/", 1)[0] + "/" + self.db_name

    @property
    def topic_prefix(self) -> str:
        return f"bench{self.rand}"

    @property
    def monitoring_topic(self) -> str:
        return topic_name(self.topic_prefix, MONITORING_TOPIC)

    def service_env(self) -> dict[str, str]:
        """What an ingest process of the benchmark runs with (rate limit off, quiet logs unless
        PACTA_BENCH_LOG_LEVEL says otherwise: INFO to trace a run)."""
        return {
            "PACTA_KAFKA_BOOTSTRAP": KAFKA,
            "PACTA_DATABASE_URL": self.database_url,
            "PACTA_TOPIC_PREFIX": self.topic_prefix,
            "PACTA_API_KEYS": f"{API_KEY}:ingest",
            "PACTA_LOG_LEVEL": os.environ.get("PACTA_BENCH_LOG_LEVEL", "WARNING"),
            "PACTA_INGEST_RATE_LIMIT": "0",
        }

    async def __aenter__(self) -> BenchEnv:
        try:
            admin = await asyncpg.connect(ADMIN_DSN, timeout=10)
        except Exception as exc:
            raise RuntimeError(
                f"PostgreSQL is not reachable at {ADMIN_DSN} (run `make setup`): {exc!r}"
            ) from None
        try:
            await admin.execute(f'CREATE DATABASE "{self.db_name}"')
        finally:
            await admin.close()
        try:
            settings = CommonSettings(
                kafka_bootstrap=KAFKA,
                database_url=self.database_url,
                topic_prefix=self.topic_prefix,
            )
            async with asyncio.timeout(30):
                await ensure_topics(settings)
            async with asyncio.timeout(30):
                parts = await self._partitions(self.monitoring_topic)
            self.consumer = AIOKafkaConsumer(
                bootstrap_servers=KAFKA, enable_auto_commit=False, request_timeout_ms=10_000
            )
            async with asyncio.timeout(30):
                await self.consumer.start()
            self.partitions = [TopicPartition(self.monitoring_topic, p) for p in sorted(parts)]
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.consumer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.consumer.stop(), 10)
        with contextlib.suppress(Exception):
            admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA, request_timeout_ms=10_000)
            async with asyncio.timeout(30):
                await admin.start()
                try:
                    existing = set(await admin.list_topics())
                    mine = [topic_name(self.topic_prefix, s) for s in ALL_TOPICS]
                    if gone := [t for t in mine if t in existing]:
                        await admin.delete_topics(gone, timeout_ms=10_000)
                finally:
                    await admin.close()
        admin_pg = await asyncpg.connect(ADMIN_DSN, timeout=10)
        try:
            await admin_pg.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        finally:
            await admin_pg.close()

    @staticmethod
    async def _partitions(topic: str) -> list[int]:
        """The topic's partition numbers, once the broker reports them all."""
        admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA, request_timeout_ms=10_000)
        await admin.start()
        try:
            while True:
                described = await admin.describe_topics([topic])
                parts = [p["partition"] for d in described for p in d.get("partitions", [])]
                if parts and all(d.get("error_code", 0) == 0 for d in described):
                    return parts
                await asyncio.sleep(0.2)
        finally:
            await admin.close()

    # counting -------------------------------------------------------------------------------

    async def kafka_records(self) -> int:
        """Records on the monitoring topic: the sum of the partitions' end offsets (the topic
        is fresh, idempotent produces without transactions leave no gaps)."""
        assert self.consumer is not None
        async with asyncio.timeout(15):
            ends = await self.consumer.end_offsets(self.partitions)
        return int(sum(ends.values()))

    async def kafka_settled(self, quiet: float = 0.7, limit: float = 15.0) -> int:
        """The record count once it stopped moving for `quiet` seconds (requests still being
        answered when wrk stopped finish first)."""
        deadline = time.monotonic() + limit
        last, since = await self.kafka_records(), time.monotonic()
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            now = await self.kafka_records()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
        return last

    @contextlib.asynccontextmanager
    async def db(self) -> AsyncIterator[asyncpg.Connection]:
        conn = await asyncpg.connect(self.database_url, timeout=10)
        try:
            yield conn
        finally:
            await conn.close()

    async def seen_events(self) -> int:
        async with self.db() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM ingest.seen_events"))


class RetryingEnv(BenchEnv):
    """BenchEnv, whose final DROP DATABASE is retried: an autovacuum worker (which only a
    superuser may terminate) can hold the database for a moment after a million-row write."""

    async def __aexit__(self, *exc: object) -> None:
        for attempt in range(10):
            try:
                await super().__aexit__(*exc)
                return
            except asyncpg.InsufficientPrivilegeError:
                if attempt == 9:
                    raise
                await asyncio.sleep(3)
