"""The driver connection the engine's bulk statements run on belongs to the transaction it was
taken in: a statement run there first rolls back with it, and a relay round whose send failed
leaves its rows on the outbox."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pacta.db import create_engine
from sla_engine.kafka.outbox import Relay, enqueue, enqueued_in
from sla_engine.store import driver_connection
from tests.integration.test_sla_outage_path import outage_path


class FailingSender:
    async def send(self, *_args: Any, **_kwargs: Any) -> None:
        raise TimeoutError("Kafka did not acknowledge")

    async def queue(self, *_args: Any, **_kwargs: Any) -> Coroutine[Any, Any, None]:
        return self.send()


async def insert_then_fail(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        raw = await driver_connection(conn)
        assert raw.is_in_transaction()
        await raw.execute(
            "INSERT INTO sla_engine.ticket_events (event_id, ticket_id, occurred_at, body) "
            "VALUES ('gone', 't', now(), '{}')"
        )
        raise RuntimeError("rolled back")


async def test_a_first_statement_on_the_driver_rolls_back_with_its_transaction() -> None:
    async with outage_path("drvtx") as path:
        engine = create_engine(path.dsn.replace("postgresql://", "postgresql+asyncpg://"))
        try:
            with pytest.raises(RuntimeError):
                await insert_then_fail(engine)
            async with engine.connect() as conn:
                # a connection without a transaction begun stays as it was
                raw = await driver_connection(conn)
                assert not raw.is_in_transaction()
                left = await raw.fetchval("SELECT count(*) FROM sla_engine.ticket_events")
            assert left == 0
        finally:
            await engine.dispose()


async def test_a_relay_round_whose_send_failed_leaves_its_rows() -> None:
    async with outage_path("drvrelay") as path:
        async with path.engine.begin() as conn:
            await enqueue(conn, topic="t.signals", key="k", record_id="r1", body={"a": 1})
        relay = Relay(path.engine, producer=None, batch=10)
        relay.sender = FailingSender()  # type: ignore[assignment]
        with pytest.raises(TimeoutError):
            await relay.relay_once()
        async with path.engine.connect() as conn:
            left = await conn.scalar(sa.text("SELECT count(*) FROM sla_engine.outbox"))
        assert left == 1


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, _producer: Any, records: Any, **_kwargs: Any) -> None:
        self.sent += [r.value for r in records]

    async def queue(
        self, _producer: Any, records: Any, **_kwargs: Any
    ) -> Coroutine[Any, Any, None]:
        self.sent += [r.value for r in records]
        return asyncio.sleep(0)


async def enqueue_then_fail(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await enqueue(conn, topic="t.signals", key="k", record_id="gone", body={})
        raise RuntimeError("rolled back")


async def outbox_left(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(sa.text("SELECT count(*) FROM sla_engine.outbox")) or 0)


async def test_rows_a_commit_hands_over_are_sent_as_held_and_deleted() -> None:
    async with outage_path("drvhand") as path:
        async with path.engine.begin() as conn:
            await enqueue(conn, topic="t.signals", key="k", record_id="r1", body={"a": 1})
            await enqueue(conn, topic="t.signals", key="k", record_id="r2", body={"a": 2})
            seqs = enqueued_in(conn)
        assert len(seqs) == 2
        assert seqs == sorted(seqs)
        relay = Relay(path.engine, producer=None, batch=10)
        sender = relay.sender = RecordingSender()  # type: ignore[assignment]
        relay.read, relay.last_read = False, time.monotonic()  # as after a read round
        relay.notify(seqs)
        relay.notify(seqs)  # rung twice (the clocks' and the outages' bells): sent once
        assert await relay.relay_round() == 2
        assert sender.sent == [b'{"a":1}', b'{"a":2}']
        assert await relay.relay_round() == 0
        await relay.deleted()
        assert await outbox_left(path.engine) == 0


async def test_a_rolled_back_transaction_hands_nothing_over_and_a_failed_send_is_read_again() -> (
    None
):
    async with outage_path("drvhandfail") as path:
        with pytest.raises(RuntimeError):
            await enqueue_then_fail(path.engine)
        async with path.engine.begin() as conn:
            # the same pooled connection: what the rolled-back transaction left is not its
            assert enqueued_in(conn) == []
            await enqueue(conn, topic="t.signals", key="k", record_id="r1", body={"a": 1})
            seqs = enqueued_in(conn)
        assert len(seqs) == 1
        relay = Relay(path.engine, producer=None, batch=10)
        relay.sender = FailingSender()  # type: ignore[assignment]
        relay.read, relay.last_read = False, time.monotonic()
        relay.notify(seqs)
        assert await relay.relay_round() == 1  # queued: the failure comes with the acks
        with pytest.raises(TimeoutError):
            await relay.relay_round()
        assert await outbox_left(path.engine) == 1
        # the run loop asks for a read round after a failure: it sends the row from the outbox
        sender = relay.sender = RecordingSender()  # type: ignore[assignment]
        relay.read = True
        assert await relay.relay_round() == 1
        assert sender.sent == [b'{"a":1}']
        assert await outbox_left(path.engine) == 0
