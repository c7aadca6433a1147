"""The shared Kafka and PostgreSQL plumbing against the real broker and database, in-process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.app import MIGRATIONS as INGEST_MIGRATIONS
from pacta.db import claim_events, create_engine, migrate
from pacta.events import TICKETS_TOPIC, topic_name
from pacta.kafka import (
    FetchPace,
    LookaheadHandler,
    Record,
    consume_forever,
    create_consumer,
    create_producer,
    send_all,
)
from pacta.settings import CommonSettings
from sla_engine.app import MIGRATIONS as ENGINE_MIGRATIONS

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(settings: CommonSettings) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(settings.database_url, pool_size=2)
    yield eng
    await eng.dispose()


async def test_migrations_are_idempotent(settings: CommonSettings, engine: AsyncEngine) -> None:
    # every start migrates: the second run finds nothing to do
    await migrate(settings.database_url, "ingest", INGEST_MIGRATIONS)
    await migrate(settings.database_url, "ingest", INGEST_MIGRATIONS)
    await migrate(settings.database_url, "sla_engine", ENGINE_MIGRATIONS)
    async with engine.connect() as conn:
        version = await conn.scalar(sa.text("SELECT version_num FROM ingest.alembic_version"))
        tables = await conn.scalar(
            sa.text(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'sla_engine'"
            )
        )
    assert version == max(p.name[:4] for p in (INGEST_MIGRATIONS / "versions").glob("0*.py"))
    assert tables >= 8


async def test_inbox_claims_each_id_once_and_rolls_back(
    settings: CommonSettings, engine: AsyncEngine
) -> None:
    await migrate(settings.database_url, "sla_engine", ENGINE_MIGRATIONS)
    ids = [f"claim-{uuid.uuid4().hex}" for _ in range(3)]
    claimed: set[str] = set()

    async def apply_and_fail() -> None:
        async with engine.begin() as conn:
            claimed.update(await claim_events(conn, "sla_engine", ids))
            raise RuntimeError("the transaction applying the events fails")

    with pytest.raises(RuntimeError):
        await apply_and_fail()
    assert claimed == set(ids)
    async with engine.begin() as conn:
        assert await claim_events(conn, "sla_engine", ids[:2]) == set(ids[:2])  # rolled back
    async with engine.begin() as conn:
        assert await claim_events(conn, "sla_engine", ids) == {ids[2]}


async def test_records_carry_cloudevent_headers_and_commit_after_the_handler(
    settings: CommonSettings,
) -> None:
    topic = topic_name(settings.topic_prefix, TICKETS_TOPIC)
    producer = create_producer(settings, "test-plumbing")
    await producer.start()
    key = f"T-{uuid.uuid4().hex[:8]}"
    headers = [("ce_id", key.encode()), ("ce_type", b"io.pacta.ticket")]
    try:
        await send_all(producer, [(topic, key.encode(), b'{"n": 1}', headers)], timeout=10)
    finally:
        await producer.stop()

    group = f"plumbing-{uuid.uuid4().hex[:8]}"
    seen: list[Record] = []
    failed_once = asyncio.Event()
    stop = asyncio.Event()

    async def handle(records: list[Record]) -> None:
        mine = [r for r in records if r.key == key.encode()]
        if mine and not failed_once.is_set():
            failed_once.set()  # a database outage: the batch must be retried, not skipped
            raise OSError("database away")
        seen.extend(mine)
        if mine:
            stop.set()

    consumer = create_consumer(settings, group, [TICKETS_TOPIC], "plumbing")
    await consumer.start()
    try:
        await asyncio.wait_for(consume_forever(consumer, group, handle, stop), 60)
    finally:
        await consumer.stop()
    assert len(seen) == 1
    assert dict(seen[0].headers)["ce_id"] == key.encode()
    # the offset was committed after the handler succeeded: a new consumer of the group
    # starts after the record
    consumer = create_consumer(settings, group, [TICKETS_TOPIC], "plumbing-2")
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=3000)
        again = [r for rs in batches.values() for r in rs if r.key == key.encode()]
    finally:
        await consumer.stop()
    assert again == []


async def test_a_lookahead_handler_is_shown_each_batch_before_it_is_handed_it(
    settings: CommonSettings,
) -> None:
    topic = topic_name(settings.topic_prefix, TICKETS_TOPIC)
    prefix = f"L-{uuid.uuid4().hex[:8]}-"
    keys = [f"{prefix}{n}".encode() for n in range(40)]
    producer = create_producer(settings, "test-plumbing")
    await producer.start()
    try:
        await send_all(producer, [(topic, k, b"{}", []) for k in keys], timeout=10)
    finally:
        await producer.stop()
    stop = asyncio.Event()

    class Handler(LookaheadHandler):
        def __init__(self) -> None:
            self.shown: list[list[Record]] = []
            self.handed: list[list[Record]] = []

        async def __call__(self, records: list[Record]) -> None:
            self.handed.append(records)
            await asyncio.sleep(0.05)  # a transaction: the fetcher fills meanwhile
            if sum(1 for rs in self.handed for r in rs if r.key in keys) >= len(keys):
                stop.set()

        def upcoming(self, records: list[Record]) -> None:
            self.shown.append(records)

    handler = Handler()
    group = f"plumbing-{uuid.uuid4().hex[:8]}"
    consumer = create_consumer(settings, group, [TICKETS_TOPIC], "plumbing", max_records=5)
    await consumer.start()
    try:
        await asyncio.wait_for(consume_forever(consumer, group, handler, stop, 5), 60)
    finally:
        await consumer.stop()
    mine = [r.key for rs in handler.handed for r in rs if r.key in keys]
    assert sorted(mine) == sorted(keys)  # each once
    # a batch shown was the next one handed (the very list), unless none was fetched yet
    for shown in handler.shown[:-1]:
        if shown:
            assert any(h is shown for h in handler.handed)
    assert any(handler.shown), "the fetcher held a batch ahead at least once"
    # the offsets of the batch handled last were committed, not those of the one shown ahead
    consumer = create_consumer(settings, group, [TICKETS_TOPIC], "plumbing-2")
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=3000)
        again = {r.key for rs in batches.values() for r in rs if r.key in keys}
    finally:
        await consumer.stop()
    ahead = {r.key for r in handler.shown[-1]} if handler.shown else set()
    assert again <= ahead


async def test_a_paced_consumer_takes_every_record_of_a_stream_once(
    settings: CommonSettings,
) -> None:
    """Fetches waiting for 64 KiB or 20 ms while records flow, at the first record otherwise
    (`FetchPace`): the sizes change between fetches, never what is consumed."""
    topic = topic_name(settings.topic_prefix, TICKETS_TOPIC)
    run = uuid.uuid4().hex[:8]
    keys = [f"P-{run}-{n}".encode() for n in range(40)]
    group = f"paced-{run}"
    consumer = create_consumer(
        settings, group, [TICKETS_TOPIC], "paced", fetch_min_bytes=65536, fetch_max_wait_ms=20
    )
    await consumer.start()
    seen: list[bytes] = []
    stop = asyncio.Event()

    async def handle(records: list[Record]) -> None:
        seen.extend(r.key for r in records if r.key in keys)
        if len(seen) >= len(keys):
            stop.set()

    async def stream() -> None:
        producer = create_producer(settings, "test-paced")
        await producer.start()
        try:
            for key in keys:  # one at a time, some polls bring one, some several
                await send_all(producer, [(topic, key, b"{}", [])], timeout=10)
                await asyncio.sleep(0.005)
        finally:
            await producer.stop()

    try:
        consuming = asyncio.create_task(
            consume_forever(consumer, group, handle, stop, pace=FetchPace(65536, 20))
        )
        await stream()
        await asyncio.wait_for(consuming, 60)
    finally:
        await consumer.stop()
    assert sorted(seen) == sorted(keys)
