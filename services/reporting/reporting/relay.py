"""Produces reporting's outbox (issued reports for the subscriptions) to Kafka: a row is marked
sent once the broker acknowledged it, so a crash in between sends it again (alerting queues a
delivery once per `delivery_id`)."""

from __future__ import annotations

import asyncio
import contextlib

import orjson
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer

from pacta.events import REPORTS_TOPIC, topic_name
from pacta.kafka import create_producer, send_all, start_with_retry
from pacta.logs import get_logger
from reporting.context import Reporting
from reporting.store import q

log = get_logger(__name__)
BATCH = 20
IDLE_S = 0.5


async def relay_once(ctx: Reporting, producer: AIOKafkaProducer) -> int:
    s = q(ctx.schema)
    async with ctx.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text(
                    f"SELECT id, key, body FROM {s}.outbox WHERE sent_at IS NULL "
                    "ORDER BY id LIMIT :n"
                ),
                {"n": BATCH},
            )
        ).all()
    if not rows:
        return 0
    topic = topic_name(ctx.settings.topic_prefix, REPORTS_TOPIC)
    await send_all(
        producer, [(topic, key.encode(), orjson.dumps(body), []) for _, key, body in rows], 30.0
    )
    async with ctx.engine.begin() as conn:
        await conn.execute(
            sa.text(f"UPDATE {s}.outbox SET sent_at = now() WHERE id = ANY(:ids)"),
            {"ids": [r[0] for r in rows]},
        )
    log.info("issued reports produced", count=len(rows), keys=[r[1] for r in rows])
    return len(rows)


async def run(ctx: Reporting, stop: asyncio.Event) -> None:
    producer = create_producer(ctx.settings, "reporting-relay")
    if not await start_with_retry(producer, "reporting-relay", stop):
        return
    try:
        while not stop.is_set():
            try:
                if await relay_once(ctx, producer):
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Kafka or PostgreSQL away: the rows wait for the next try
                log.warning("issued reports not produced yet", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ctx.outbox_wake.wait(), IDLE_S)
            ctx.outbox_wake.clear()
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 10)
