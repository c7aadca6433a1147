"""The driver connection the engine's bulk statements run on belongs to the transaction it was
taken in: a statement run there first rolls back with it, and a relay round whose send failed
leaves its rows on the outbox."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pacta.db import create_engine
from sla_engine.kafka.outbox import Relay, enqueue
from sla_engine.store import driver_connection
from tests.integration.test_sla_outage_path import outage_path


class FailingSender:
    async def send(self, *_args: Any, **_kwargs: Any) -> None:
        raise TimeoutError("Kafka did not acknowledge")


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
